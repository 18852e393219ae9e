"""Training for every task: one driver (options, distributed set-up, optimizer, EMA, AMP, resume), one
loop (vimvision.engine.trainer), safe and atomic checkpoints, and the run's summary and curves."""
from .driver import Task, build_parser, run
from .evaluation import evaluate
from .trainer import LoopConfig, Trainer

__all__ = ["LoopConfig", "Task", "Trainer", "build_parser", "evaluate", "run"]
