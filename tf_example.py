"""tf.train.Example records serialized in Google's feature order.

Google's scripts add features to an OrderedDict; protobuf's pure-Python
backend writes map entries in that order, but the default (upb) backend orders
them differently in every process, so the same record has different bytes from
run to run. Writing the protobuf wire format here keeps Google's order: equal
features give equal bytes, the bytes of Google's reference files.

No TensorFlow and no flags here: create_pretraining_data.py (which avoids
importing TensorFlow) and the fine-tuning runners share this module.
"""

import struct


def varint(value):
  """The protobuf varint of one int64, as bytes (negatives take 10 bytes)."""
  if value < 0:
    value += 1 << 64
  out = bytearray()
  while value >= 0x80:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def feature_header(name, payload_length, is_float):
  """Bytes of one `features` map entry up to its packed values.

  The entry is: tag 1 (map entry), length, key (field 1), value (field 2, a
  tf.train.Feature whose int64_list (field 3) or float_list (field 2) holds
  one packed field 1).

  Args:
    name: feature name.
    payload_length: bytes of the packed values.
    is_float: float_list instead of int64_list.

  Returns:
    bytes.
  """
  values = b"\x0a" + varint(payload_length)
  value_list = (b"\x12" if is_float else b"\x1a") + varint(
      len(values) + payload_length)
  key = b"\x0a" + varint(len(name)) + name.encode("utf-8")
  value = b"\x12" + varint(len(value_list) + len(values) + payload_length)
  body = len(key) + len(value) + len(value_list) + len(values)
  return (b"\x0a" + varint(body + payload_length) + key + value +
          value_list + values)


def serialize_example(features):
  """A serialized tf.train.Example with its features in the given order.

  Args:
    features: sequence of (name, values, is_float): values a list of
      ints (int64_list) or of floats (float_list, float32).

  Returns:
    bytes, equal to tf.train.Example.SerializeToString() under protobuf's
    pure-Python backend for the same features added in the same order.
  """
  body = []
  for name, values, is_float in features:
    if is_float:
      payload = struct.pack("<%df" % len(values), *values)
    else:
      payload = b"".join(varint(int(v)) for v in values)
    body.append(feature_header(name, len(payload), is_float))
    body.append(payload)
  body = b"".join(body)
  return b"\x0a" + varint(len(body)) + body


def feature_header_table(names, float_names, max_payload):
  """Every map-entry header of some features, for the record kernels.

  Args:
    names: feature names in record order.
    float_names: the names among them that are float_lists.
    max_payload: the largest payload (bytes of packed values) to cover.

  Returns:
    (headers, index): headers, bytes of every header one after the other;
    index, a list per feature of (offset, length) in `headers` of its
    header for a payload of 0 .. max_payload bytes.
  """
  chunks = []
  index = []
  offset = 0
  for name in names:
    entries = []
    for size in range(max_payload + 1):
      header = feature_header(name, size, name in float_names)
      entries.append((offset, len(header)))
      chunks.append(header)
      offset += len(header)
    index.append(entries)
  return b"".join(chunks), index
