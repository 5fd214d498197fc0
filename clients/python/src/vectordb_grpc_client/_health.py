"""Messages of the standard gRPC health service (grpc.health.v1.Health/Check).

grpcio does not ship them (they are in the separate grpcio-health-checking distribution, which Debian
does not package), and generating them into this package would register ``grpc.health.v1`` messages in
protobuf's default descriptor pool, where they would clash with that distribution's copy if a program
imports both. So the two small messages are described here in a private pool instead.
"""

from __future__ import annotations

from typing import Any, Tuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _build_classes() -> Tuple[Any, Any]:
    file = descriptor_pb2.FileDescriptorProto(
        name="vectordb_grpc_client/grpc_health_v1.proto",
        package="grpc.health.v1",
        syntax="proto3",
    )
    request = file.message_type.add(name="HealthCheckRequest")
    request.field.add(name="service", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    response = file.message_type.add(name="HealthCheckResponse")
    status = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
        status.value.add(name=name, number=number)
    response.field.add(
        name="status",
        number=1,
        type=_F.TYPE_ENUM,
        label=_F.LABEL_OPTIONAL,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get_class is None:  # protobuf 4.21 (Debian bookworm)
        get_class = message_factory.MessageFactory(pool).GetPrototype
    return (
        get_class(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")),
        get_class(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")),
    )


HealthCheckRequest, HealthCheckResponse = _build_classes()
CHECK_METHOD = "/grpc.health.v1.Health/Check"


def status_name(response: Any) -> str:
    """``"SERVING"``, ``"NOT_SERVING"``, ``"UNKNOWN"`` or ``"SERVICE_UNKNOWN"`` (a number the enum does
    not know, from a newer server, comes back as ``"UNKNOWN_<number>"``)."""
    value = response.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number.get(response.status)
    return str(value.name) if value is not None else f"UNKNOWN_{response.status}"
