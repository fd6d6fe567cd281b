"""Evaluation-server files of splits without public labels (EvalAI VQAv2 test-dev, VizWiz test...).

A task names its writer in ``submission: {writer, args}``; writers are registered in
:data:`emu2_eval.core.registry.SUBMISSION_WRITERS`, so another benchmark adds its own by name.
"""
