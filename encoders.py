# coding=utf-8
"""The registry of encoder families: where every script gets its model and
tokenizer.

A family is a small class plus a name table (bert4keras's `variable_mapping()`
idea): its config class and how to read the config file, how to build the
model (a tf.Module with the family's checkpoint names), its tokenizer, and the
checkpoint names of the encoder. "bert" (Google's BERT) and "albert"
(google-research/albert) are registered here; a new family is a new
`EncoderFamily` subclass passed to `register`, see ARCHITECTURE.md ("How to
add a model family"). A config file of one family given to another is
refused, naming both.

Scripts choose a family with `--encoder_family` (default "auto": detected from
the config file, see `detect_family`) and build through an `EncoderSpec`
(family + config). A TF Hub BERT encoder module (any format hub_lib reads) is
the other source of an encoder: `hub_encoder(handle)`.

The encoder contract every task relies on: `model(input_ids, input_mask=None,
token_type_ids=None, training=None, ...)` returns outputs with
`pooled_output` [B, H], `sequence_output` [B, S, H], `all_encoder_layers`,
and (families) `embedding_output` [B, S, E], `embedding_table` [V, E]; and
`model.config.hidden_size` is H.
"""

import collections
import json

import tensorflow as tf

from albert import modeling as albert_modeling
from albert import tokenization as albert_tokenization
import modeling
import tokenization
import validation

AUTO = "auto"


class EncoderFamily(object):
  """One model family: config, model, tokenizer, checkpoint names."""

  # The family's name (--encoder_family), its config flag and the scripts
  # that take it (named when a config is given to another family's script).
  name = None
  config_file_flag = "bert_config_file"
  example_scripts = None
  config_class = None

  def config_from_dict(self, values):
    """The family's config from a dict (e.g. a parsed config file)."""
    return self.config_class.from_dict(values)

  def load_config(self, path, flag_name=None):
    """Reads the config file; errors name the file.

    Args:
      path: the config file.
      flag_name: the flag that named it, when the script takes only this
        family's configs (ALBERT's --albert_config_file): a config of another
        family is then refused naming that family's scripts.

    Raises:
      ValueError: the file is unreadable, or is another family's config
        (`check_config_file`).
    """
    values = _read_config_dict(path)
    if values is not None:
      self.check_config_file(path, values, flag_name)
    # Every field checked (type, range, presence) before any work.
    return modeling.load_config(path, self.config_class)

  def check_config_file(self, path, values, flag_name=None):
    """Refuses a parsed config file of another family.

    Args:
      path: the file (for the message).
      values: its parsed JSON object.
      flag_name: see `load_config`.

    Raises:
      ValueError: naming the file, the family it belongs to, why, and the
        flags to use.
    """
    if self.matches(values):
      return
    owners = [f for f in _FAMILIES.values() if f is not self and f.matches(values)]
    albert_keys = [k for k in modeling.ALBERT_CONFIG_KEYS if k in values]
    evidence = ("it has %s" % ", ".join(albert_keys) if albert_keys else
                "it has none of ALBERT's keys %s" %
                ", ".join(modeling.ALBERT_CONFIG_KEYS))
    if not owners:
      raise validation.UsageError("%s is not %s config (%s)." %
                       (path, _article(self.name), evidence))
    owner = owners[0]
    if flag_name:
      raise validation.UsageError(
          "--%s=%s is %s config (%s), not %s one: fine-tune %s with %s --%s" %
          (flag_name, path, _article(owner.name), evidence,
           _article(self.name), owner.name.upper(), owner.example_scripts,
           owner.config_file_flag))
    raise validation.UsageError(
        "%s is %s config (%s), not %s one: use --encoder_family=%s (or auto) "
        "and pass it as --%s." % (path, _article(owner.name), evidence,
                                  _article(self.name), owner.name,
                                  owner.config_file_flag))

  def create_model(self, config, is_training=False,
                   use_one_hot_embeddings=False, compute_dtype=tf.float32,
                   scope=None):
    """-> the encoder (a tf.Module whose variables carry checkpoint names)."""
    raise NotImplementedError

  def create_tokenizer(self, vocab_file=None, do_lower_case=True,
                       spm_model_file=None):
    """-> the family's tokenizer (tokenize, convert_tokens_to_ids, vocab)."""
    raise NotImplementedError

  def create_text_tokenizer(self, vocab_file=None, do_lower_case=True,
                            spm_model_file=None):
    """-> the family's tokenizer for raw text, as the shared readers give it.

    The family's own scripts may normalise text before tokenizing (ALBERT's
    `preprocess_text`); family-agnostic code (run_classifier.py, the TF Hub
    runner, extract_features.py) passes raw text to this one. Same arguments
    as `create_tokenizer`.
    """
    return self.create_tokenizer(vocab_file=vocab_file,
                                 do_lower_case=do_lower_case,
                                 spm_model_file=spm_model_file)

  def variable_names(self, config):
    """-> list of the encoder's checkpoint names (without building it)."""
    raise NotImplementedError

  def num_encoder_layers(self, config):
    """-> the length of the outputs' `all_encoder_layers` (one per block)."""
    return config.num_hidden_layers

  def matches(self, config_dict):
    """Whether a parsed config file is one of this family's."""
    raise NotImplementedError

  def key_shapes(self, config):
    """A few checkpoint names -> shapes the config fixes (None: any size).

    The embedding tables' rows (vocab_size, type_vocab_size,
    max_position_embeddings) and the pooler's [hidden_size, hidden_size],
    for `checkpoints.check_init_checkpoint` (Google's names, which BERT and
    ALBERT share); a family with other names overrides it.
    """
    emb = modeling.bert_embedding_names("bert")
    return {
        emb["word_embeddings"]: [config.vocab_size, None],
        emb["token_type_embeddings"]: [config.type_vocab_size, None],
        emb["position_embeddings"]: [config.max_position_embeddings, None],
        "bert/pooler/dense/kernel": [config.hidden_size, config.hidden_size],
    }


class BertFamily(EncoderFamily):
  """Google's BERT: BertConfig, BertModel, FullTokenizer (WordPiece)."""

  name = "bert"
  config_file_flag = "bert_config_file"
  example_scripts = "run_classifier.py or run_squad.py"
  config_class = modeling.BertConfig

  # Keys that other families' configs have and BERT's never do.
  FOREIGN_KEYS = modeling.ALBERT_CONFIG_KEYS

  def create_model(self, config, is_training=False,
                   use_one_hot_embeddings=False, compute_dtype=tf.float32,
                   scope=None):
    return modeling.BertModel(config, is_training=is_training,
                              use_one_hot_embeddings=use_one_hot_embeddings,
                              scope=scope, compute_dtype=compute_dtype)

  def create_tokenizer(self, vocab_file=None, do_lower_case=True,
                       spm_model_file=None):
    if spm_model_file:
      raise validation.UsageError(
          "--spm_model_file=%s: BERT's tokenizer is WordPiece (--vocab_file); "
          "a SentencePiece model goes with an ALBERT config." % spm_model_file)
    if not vocab_file:
      raise validation.UsageError(
          "--vocab_file is required: BERT's tokenizer is WordPiece (an ALBERT "
          "config would take --spm_model_file).")
    return tokenization.FullTokenizer(vocab_file=vocab_file,
                                      do_lower_case=do_lower_case)

  def variable_names(self, config):
    return modeling.bert_variable_names(config)

  def matches(self, config_dict):
    return not any(key in config_dict for key in self.FOREIGN_KEYS)


class AlbertFamily(EncoderFamily):
  """google-research/albert: AlbertConfig, AlbertModel, ALBERT's
  FullTokenizer (SentencePiece, or WordPiece over ALBERT's load_vocab)."""

  name = "albert"
  config_file_flag = "albert_config_file"
  example_scripts = "albert.run_classifier or albert.run_squad_v1"
  config_class = albert_modeling.AlbertConfig

  def create_model(self, config, is_training=False,
                   use_one_hot_embeddings=False, compute_dtype=tf.float32,
                   scope=None):
    return albert_modeling.AlbertModel(
        config, is_training=is_training,
        use_one_hot_embeddings=use_one_hot_embeddings, scope=scope,
        compute_dtype=compute_dtype)

  def create_tokenizer(self, vocab_file=None, do_lower_case=True,
                       spm_model_file=None):
    _check_albert_tokenizer_files(vocab_file, spm_model_file)
    return albert_tokenization.FullTokenizer(
        vocab_file=vocab_file, do_lower_case=do_lower_case,
        spm_model_file=spm_model_file)

  def create_text_tokenizer(self, vocab_file=None, do_lower_case=True,
                            spm_model_file=None):
    """ALBERT's tokenizer with `preprocess_text` (lower-cased when
    `do_lower_case`) before SentencePiece, as ALBERT's data scripts do."""
    _check_albert_tokenizer_files(vocab_file, spm_model_file)
    return albert_tokenization.TextTokenizer(
        vocab_file=vocab_file, do_lower_case=do_lower_case,
        spm_model_file=spm_model_file)

  def variable_names(self, config):
    return albert_modeling.albert_variable_names(config)

  def num_encoder_layers(self, config):
    return config.num_hidden_layers * config.inner_group_num

  def matches(self, config_dict):
    return any(key in config_dict for key in modeling.ALBERT_CONFIG_KEYS)


def _check_albert_tokenizer_files(vocab_file, spm_model_file):
  """Refuses an ALBERT tokenizer without a model or vocabulary file."""
  if not spm_model_file and not vocab_file:
    raise validation.UsageError(
        "ALBERT's tokenizer needs --spm_model_file (or a WordPiece "
        "--vocab_file); neither is set.")


def _article(family_name):
  """"a BERT" / "an ALBERT": the family's name with its article."""
  label = family_name.upper()
  return ("an " if label[0] in "AEIOU" else "a ") + label


_FAMILIES = collections.OrderedDict()


def register(family):
  """Adds an EncoderFamily instance to the registry (by `family.name`)."""
  _FAMILIES[family.name] = family
  return family


def family_names():
  """Names of the registered families, in registration order."""
  return list(_FAMILIES)


def get_family(name):
  """The registered family `name`.

  Raises:
    ValueError: naming the registered families.
  """
  if name not in _FAMILIES:
    raise validation.UsageError("Unknown --encoder_family=%s (registered: %s)" %
                     (name, ", ".join(family_names())))
  return _FAMILIES[name]


def _read_config_dict(config_path):
  """The parsed config file, or None when it is not a readable JSON object."""
  try:
    with tf.io.gfile.GFile(config_path, "r") as f:
      values = json.loads(f.read())
  except (ValueError, tf.errors.OpError, OSError):
    return None
  return values if isinstance(values, dict) else None


def detect_family(config_path):
  """The family whose config file `config_path` is.

  The families are asked in reverse registration order and the first whose
  `matches` accepts the parsed file wins: BERT, registered first, takes any
  config that no later (more specific) family claims. A file that cannot be
  parsed gets BERT, whose `load_config` then names the problem.

  Raises:
    ValueError: no registered family matches (naming the file and the keys
      that do not fit).
  """
  values = _read_config_dict(config_path)
  if values is None:
    return next(iter(_FAMILIES.values()))
  for family in reversed(list(_FAMILIES.values())):
    if family.matches(values):
      return family
  foreign = sorted(k for k in values if k in BertFamily.FOREIGN_KEYS)
  raise validation.UsageError(
      "%s is not the config of a registered encoder family (%s)%s." %
      (config_path, ", ".join(family_names()),
       (": it has %s, ALBERT's keys" % ", ".join(foreign)) if foreign
       else ""))


def family_for_config(config):
  """The registered family whose config class `config` is an instance of."""
  for family in reversed(list(_FAMILIES.values())):
    # The exact class first: a subclass's family wins over its base's.
    if config.__class__ is family.config_class:
      return family
  for family in reversed(list(_FAMILIES.values())):
    if isinstance(config, family.config_class):
      return family
  raise ValueError("No registered encoder family has the config class %s." %
                   type(config).__name__)


def load_config(config_path, family_name=AUTO):
  """Reads a config file with its family.

  Args:
    config_path: the config file (e.g. --bert_config_file).
    family_name: a registered family, or "auto" / None to detect it.

  Returns:
    (EncoderFamily, config).
  """
  if family_name in (None, "", AUTO):
    family = detect_family(config_path)
  else:
    family = get_family(family_name)
  return family, family.load_config(config_path)


class EncoderSpec(object):
  """What a task builds its encoder from: a family and its config."""

  def __init__(self, family, config):
    """Args: family: EncoderFamily; config: its config object."""
    self.family = family
    self.config = config

  @classmethod
  def from_config(cls, config):
    """The spec of a config object of any registered family."""
    return cls(family_for_config(config), config)

  def create(self, compute_dtype=tf.float32, use_one_hot_embeddings=False,
             is_training=False):
    """Builds the encoder (call inside the strategy's scope).

    Args:
      compute_dtype: dtype of the matrix multiplications.
      use_one_hot_embeddings: one-hot embedding lookups (TPUs).
      is_training: the model's default for `training`.
    """
    return self.family.create_model(
        self.config, is_training=is_training,
        use_one_hot_embeddings=use_one_hot_embeddings,
        compute_dtype=compute_dtype)


register(BertFamily())
register(AlbertFamily())


# ------------------------------------------------------------------ TF Hub


class HubEncoderConfig(object):
  """What is known of a hub module's shape when it has no BERT config."""

  def __init__(self, hidden_size):
    self.hidden_size = hidden_size


class HubModuleEncoder(tf.Module):
  """A TF Hub BERT encoder module (hub_lib.LoadedEncoder, any format) behind
  the model contract of this registry (BertModel's call API and `config`)."""

  def __init__(self, loaded):
    """Wraps `loaded`: a hub_lib.LoadedEncoder."""
    super().__init__(name=None)
    self.loaded = loaded
    config = loaded.bert_config
    if config is None:
      probe = self(tf.zeros([1, 2], tf.int32), tf.ones([1, 2], tf.int32),
                   tf.zeros([1, 2], tf.int32), training=False)
      config = HubEncoderConfig(int(probe.pooled_output.shape[-1]))
    self.config = config

  def __call__(self, input_ids, input_mask=None, token_type_ids=None,
               training=False):
    """Runs the module.

    Args:
      input_ids, input_mask, token_type_ids: int [batch_size, seq_length].
      training: dropout on.

    Returns:
      modeling.BertOutputs with sequence_output and pooled_output (the
      other fields None: modules do not all have them).
    """
    input_ids = tf.cast(input_ids, tf.int32)
    if input_mask is None:
      input_mask = tf.ones_like(input_ids)
    if token_type_ids is None:
      token_type_ids = tf.zeros_like(input_ids)
    pooled, sequence = self.loaded(input_ids, tf.cast(input_mask, tf.int32),
                                   tf.cast(token_type_ids, tf.int32),
                                   training=training)
    return modeling.BertOutputs(
        sequence_output=sequence, pooled_output=pooled,
        all_encoder_layers=None, embedding_output=None, embedding_table=None)


class HubEncoderSpec(object):
  """An EncoderSpec for a TF Hub module: hub_lib resolves and reads it."""

  def __init__(self, handle):
    """Args: handle: a local module directory, a URL or a gs:// handle."""
    self.handle = handle
    self.config = None

  def create(self, compute_dtype=tf.float32, use_one_hot_embeddings=False,
             is_training=False):
    """Loads the module (inside the strategy's scope); the module's own
    dtype and embedding lookup are used."""
    del compute_dtype, use_one_hot_embeddings, is_training
    # hub_lib builds the models and tokenizers of the modules it reads
    # through this registry, so it is imported here, not at the top.
    import hub_lib  # pylint: disable=g-import-not-at-top
    return HubModuleEncoder(hub_lib.load_encoder(self.handle))

  def create_tokenizer(self):
    """The tokenizer the module describes (any format, see hub_lib)."""
    import hub_lib  # pylint: disable=g-import-not-at-top
    return hub_lib.create_tokenizer(self.handle)


def hub_encoder(handle):
  """The encoder spec of a TF Hub module (`--bert_hub_module_handle`)."""
  return HubEncoderSpec(handle)
