"""tf_example writes what TensorFlow's own protobuf parser reads back."""

import numpy as np
import pytest
import tensorflow as tf

import tf_example


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**62, -1,
                                   -2**63])
def test_varint_round_trips_through_protobuf(value):
  data = tf_example.serialize_example([("x", [value], False)])
  parsed = tf.train.Example.FromString(data)
  assert list(parsed.features.feature["x"].int64_list.value) == [value]


def test_serialized_example_parses_to_the_same_features():
  rng = np.random.RandomState(0)
  ints = [int(v) for v in rng.randint(0, 2**40, size=50)]
  floats = [float(np.float32(v)) for v in rng.normal(size=7)]
  data = tf_example.serialize_example([
      ("input_ids", ints, False), ("weights", floats, True),
      ("empty", [], False), ("label_ids", [3], False)])
  parsed = tf.train.Example.FromString(data)
  feature = parsed.features.feature
  assert list(feature["input_ids"].int64_list.value) == ints
  assert list(feature["weights"].float_list.value) == floats
  assert list(feature["empty"].int64_list.value) == []
  assert list(feature["label_ids"].int64_list.value) == [3]
