# coding=utf-8
"""BERT fine-tuning runner: token classification (NER, tagging).

Google's repository has no NER runner; this one is built like its
run_classifier.py (the same shared flags and defaults, eval_results.txt in
Google's `key = value` style) on the project's seams: the encoder from the
registry (BERT or ALBERT: --bert_config_file is either family's config,
detected; ALBERT's SentencePiece model with --spm_model_file), the tagging
task (tasks/tagging.py) and the driver (task_lib.run).

  python run_ner.py --data_dir=DIR --vocab_file=vocab.txt \\
    --bert_config_file=bert_config.json --init_checkpoint=bert_model.ckpt \\
    --do_lower_case=False --max_seq_length=128 --train_batch_size=32 \\
    --learning_rate=5e-5 --num_train_epochs=3.0 --do_train --do_eval \\
    --do_predict --output_dir=OUT

DIR holds train.txt, dev.txt, test.txt (--format=conll, jsonl or chars);
OUT gets label_list.txt, eval_results.txt (eval_f1, eval_precision,
eval_recall, eval_f1_<TYPE>, eval_accuracy, eval_loss, loss, global_step),
test_predictions.txt (conlleval's input), checkpoints and TensorBoard
summaries; --export_dir a SavedModel.
"""

import os

from absl import flags
from absl import logging
import tensorflow as tf

import encoders
import estimator_lib
import task_lib
import tokenization
import validation
from tasks import tagging
from tasks import tagging_data
# Our names that users import, from where they live.
from tasks.tagging import TaggingData
from tasks.tagging import TaggingModel
from tasks.tagging import TaggingTask

FLAGS = flags.FLAGS

# bert_config_file, vocab_file, output_dir, init_checkpoint, do_lower_case,
# max_seq_length, do_train/do_eval/do_predict, batch sizes, learning_rate,
# num_train_epochs, warmup_proportion, save_checkpoints_steps,
# iterations_per_loop, Google's TPU flags and the runtime flags.
task_lib.define_finetuning_flags()
# data_dir, format, tag_scheme, label_file, doc_stride, use_crf,
# spm_model_file, eval_every_steps, keep_best_metric, export_dir.
tagging.define_flags()


def model_fn_builder(bert_config, num_labels, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, use_crf=False,
                     optimizer="adamw"):
  """The tagger's `estimator_lib.ModelFn` (run_classifier's signature).

  Args:
    bert_config: a config of a registered family.
    num_labels: number of tags.
    init_checkpoint: warm start (weights only) or None.
    learning_rate, num_train_steps, num_warmup_steps, use_tpu: the schedule
      (None when not training).
    use_one_hot_embeddings: one-hot embedding lookups.
    use_crf: a CRF over the words' tag logits.
    optimizer: "adamw" or "lamb".
  """
  return task_lib.google_model_fn(
      TaggingTask, bert_config, init_checkpoint, learning_rate,
      num_train_steps, num_warmup_steps, use_tpu, use_one_hot_embeddings,
      optimizer, num_labels=num_labels, use_crf=use_crf)


def check_flags(config):
  """Refuses flags that cannot work, before any work.

  Args:
    config: the encoder config (for max_position_embeddings).

  Raises:
    validation.UsageError: naming the flag.
  """
  if not FLAGS.do_train and not FLAGS.do_eval and not FLAGS.do_predict:
    raise validation.UsageError(
        "At least one of `do_train`, `do_eval` or `do_predict' must be True.")
  validation.check_input_dir("data_dir", FLAGS.data_dir)
  if not FLAGS.vocab_file and not FLAGS.spm_model_file:
    raise validation.UsageError("--vocab_file is required (or, for ALBERT, "
                                "--spm_model_file)")
  validation.check_int("max_seq_length", FLAGS.max_seq_length, 3,
                       config.max_position_embeddings,
                       note="[CLS] word [SEP] up to the model's "
                       "max_position_embeddings")
  validation.check_int("doc_stride", FLAGS.doc_stride, 1)


def main(_):
  logging.set_verbosity(logging.INFO)

  tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case,
                                                FLAGS.init_checkpoint)
  family, bert_config = encoders.load_config(FLAGS.bert_config_file,
                                             FLAGS.encoder_family)
  check_flags(bert_config)
  # The label list and the scheme come from train.txt (or --label_file);
  # the files each mode reads are read and checked before any work.
  data = TaggingData(FLAGS.data_dir, FLAGS.format, FLAGS.tag_scheme,
                     FLAGS.label_file).load()
  for split, flag in (("train", "do_train"), ("dev", "do_eval"),
                      ("test", "do_predict")):
    if FLAGS[flag].value:
      data.sentences(split)
  logging.info("Tags (%s): %s", data.scheme.upper(),
               " ".join(data.label_list))
  # The words are raw text: ALBERT normalises (and lower-cases) them before
  # SentencePiece, as its own scripts do.
  tokenizer = family.create_text_tokenizer(
      vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case,
      spm_model_file=FLAGS.spm_model_file)

  run_config = estimator_lib.run_config_from_flags(FLAGS, FLAGS.output_dir)
  tf.io.gfile.makedirs(FLAGS.output_dir)
  tagging_data.write_label_file(
      os.path.join(FLAGS.output_dir, tagging.LABEL_LIST_FILE),
      data.label_list)
  task = TaggingTask(
      task_lib.settings_from_flags(FLAGS),
      encoders.EncoderSpec(family, bert_config),
      num_labels=len(data.label_list), use_crf=FLAGS.use_crf,
      use_one_hot_embeddings=FLAGS.use_tpu, data=data, tokenizer=tokenizer,
      max_seq_length=FLAGS.max_seq_length, doc_stride=FLAGS.doc_stride)
  task_lib.run(task, task.settings, run_config)


if __name__ == "__main__":
  task_lib.app_main(main, ["data_dir", "bert_config_file", "output_dir"])
