"""``python -m emu2_eval``: the command line, also as a module for launchers.

accelerate launch --num_processes 8 -m emu2_eval run --model hf-vlm ... --output runs/x
torchrun --nproc_per_node 8 -m emu2_eval run --model hf-vlm ... --output runs/x
"""

from emu2_eval.cli import main

if __name__ == "__main__":
    main(prog_name="emu2-eval")
