# coding=utf-8
"""The tasks: a ModelFn plus its data, outputs and schedule (task_lib.Task).

classification (sentence (pair) classification, multi-label, regression),
squad (extractive question answering), pretraining (masked LM + next
sentence). Tasks import no runner.
"""
