#!/usr/bin/env python3
"""Checks Vitrine's subset of Milvus's protocol against pymilvus's generated classes (the full
protocol): every message, enum value and field of the subset must exist there with the same
number, type, label and message type, so the subset reads and writes what a server sends.
The two cannot share a process (one descriptor pool, the same symbols), so the subset's
descriptors travel as serialized FileDescriptorProtos.
    python3 -m grpc_tools.protoc -I proto/milvus --descriptor_set_out=OUT.pb proto/milvus/*.proto
    python3 proto/milvus/check_subset.py OUT.pb      (needs pymilvus 2.3.x)"""
import sys

from google.protobuf import descriptor_pb2, descriptor_pool
from pymilvus.grpc_gen import common_pb2 as full_common
from pymilvus.grpc_gen import milvus_pb2 as full_milvus
from pymilvus.grpc_gen import schema_pb2 as full_schema

# The subset in a pool of its own.
files = descriptor_pb2.FileDescriptorSet()
files.ParseFromString(open(sys.argv[1], "rb").read())
pool = descriptor_pool.DescriptorPool()
for file in files.file:
    pool.Add(file)


class Module:
    def __init__(self, name):
        self.DESCRIPTOR = pool.FindFileByName(name)


common_pb2, schema_pb2, milvus_pb2 = Module("common.proto"), Module("schema.proto"), Module("milvus.proto")

problems = []


def check_enum(ours, theirs):
    for value in ours.values:
        other = theirs.values_by_name.get(value.name)
        if other is None or other.number != value.number:
            problems.append(f"enum {ours.full_name}.{value.name} = {value.number}: {other and other.number}")


def repeated(field):
    """Whether a field is repeated (protobuf 5 says so directly; 4 by its label, 3 = repeated)."""
    return field.is_repeated if hasattr(field, "is_repeated") else field.label == 3


def check_message(ours, theirs):
    if theirs is None:
        problems.append(f"message {ours.full_name} is not in the protocol")
        return
    for field in ours.fields:
        other = theirs.fields_by_name.get(field.name)
        if other is None:
            problems.append(f"{ours.full_name}.{field.name}: no such field")
            continue
        same = (other.number == field.number and other.type == field.type and repeated(other) == repeated(field)
                and (field.message_type is None or field.message_type.full_name == other.message_type.full_name)
                and (field.enum_type is None or field.enum_type.full_name == other.enum_type.full_name))
        if not same:
            problems.append(f"{ours.full_name}.{field.name}: number/type {field.number}/{field.type}, protocol {other.number}/{other.type}")
        oneof = field.containing_oneof
        if oneof is not None and (other.containing_oneof is None or other.containing_oneof.name != oneof.name):
            problems.append(f"{ours.full_name}.{field.name}: not in oneof {oneof.name} there")


for ours, theirs in ((common_pb2, full_common), (schema_pb2, full_schema), (milvus_pb2, full_milvus)):
    for name, enum in ours.DESCRIPTOR.enum_types_by_name.items():
        check_enum(enum, theirs.DESCRIPTOR.enum_types_by_name.get(name))
    for name, message in ours.DESCRIPTOR.message_types_by_name.items():
        check_message(message, theirs.DESCRIPTOR.message_types_by_name.get(name))

service = milvus_pb2.DESCRIPTOR.services_by_name["MilvusService"]
full_service = full_milvus.DESCRIPTOR.services_by_name["MilvusService"]
for method in service.methods:
    other = full_service.methods_by_name.get(method.name)
    if other is None or other.input_type.full_name != method.input_type.full_name or other.output_type.full_name != method.output_type.full_name:
        problems.append(f"rpc {method.name}: not the protocol's")

for problem in problems:
    print(problem)
print(f"{len(problems)} problems in {sum(len(m.DESCRIPTOR.message_types_by_name) for m in (common_pb2, schema_pb2, milvus_pb2))} messages")
sys.exit(1 if problems else 0)
