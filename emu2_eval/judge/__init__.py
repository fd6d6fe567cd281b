"""GPT-judged benchmarks (MM-Vet, TouchStone): official submission files and an opt-in judge.

Nothing here runs during ``emu2-eval run``: the tasks are predict-only there, and
``emu2-eval judge`` writes the submission file and, only with an endpoint given explicitly,
grades the answers (:mod:`emu2_eval.judge.client`).
"""
