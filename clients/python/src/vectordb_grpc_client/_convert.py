"""Conversions between the client's plain Python values and the generated protobuf messages."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from google.protobuf import json_format, struct_pb2

from .models import (
    Batch,
    CollectionInfo,
    CreateAlias,
    DeleteAlias,
    Hit,
    Payload,
    Point,
    RenameAlias,
    SegmentInfo,
    SnapshotInfo,
)
from .vectordb.v1 import collection_pb2, collection_service_pb2, point_pb2, snapshot_service_pb2

_np: Optional[ModuleType]
try:  # numpy is optional: arrays are accepted wherever vectors are when it is importable.
    import numpy as _np
except ImportError:  # pragma: no cover - exercised only where numpy is absent
    _np = None

# (ids, vectors, payloads) of a batch; (id, vector, payload) of a point.
_BatchColumns = Tuple[Sequence[str], Any, Optional[Sequence[Optional[Payload]]]]
_PointFields = Tuple[str, Any, Optional[Payload]]

_DISTANCES = {
    "cosine": collection_pb2.DISTANCE_COSINE,
    "dot": collection_pb2.DISTANCE_DOT,
    "euclidean": collection_pb2.DISTANCE_EUCLIDEAN,
}
_DISTANCE_NAMES = {number: name for name, number in _DISTANCES.items()}
# Doubles represent every integer up to 2**53 exactly; beyond that a payload number stays a float.
_EXACT_INT_MAX = 2**53


def distance_enum(distance: str) -> "collection_pb2.Distance":
    """``"cosine"`` / ``"dot"`` / ``"euclidean"`` (any case) → the ``vectordb.v1.Distance`` number."""
    try:
        return _DISTANCES[distance.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"distance: expected one of {sorted(_DISTANCES)}, got {distance!r}") from None


def collection_info(info: collection_pb2.CollectionInfo) -> CollectionInfo:
    return CollectionInfo(
        name=info.name,
        dimension=info.dimension,
        distance=_DISTANCE_NAMES.get(info.distance, collection_pb2.Distance.Name(info.distance)),
        m=info.hnsw.m,
        ef_construction=info.hnsw.ef_construction,
        ef=info.hnsw.ef,
        point_count=info.point_count,
        indexed_point_count=info.indexed_point_count,
        memory_bytes=info.memory_bytes,
        quantization="int8" if info.HasField("quantization") else None,
        quantization_trained=info.quantization_trained,
        vector_bytes=info.vector_bytes,
        quantized_vector_bytes=info.quantized_vector_bytes,
        recall_estimate=info.recall_estimate if info.HasField("recall_estimate") else None,
        recall_samples=info.recall_samples,
        segments=tuple(
            SegmentInfo(
                id=s.id,
                point_count=s.point_count,
                deleted_count=s.deleted_count,
                memory_bytes=s.memory_bytes,
                indexed=s.indexed,
                sealed=s.sealed,
                file_bytes=s.file_bytes,
            )
            for s in info.segments
        ),
        applied_sequence=info.applied_sequence,
        replication_lag=info.replication_lag,
    )


def vector(value: Any, what: str = "vector") -> List[float]:
    """One vector (a sequence of numbers or a 1-D numpy array) as a list of floats."""
    if _np is not None and isinstance(value, _np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"{what}: expected a 1-D array, got shape {value.shape}")
        row: List[float] = value.astype(_np.float32, copy=False).tolist()
        return row
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{what}: expected a sequence of numbers or a 1-D numpy array, got {type(value).__name__}")
    return list(value)


def vectors(values: Any, count: int, what: str = "vectors") -> List[List[float]]:
    """``count`` vectors: a 2-D numpy array (count, dimension) or a sequence of ``count`` vectors."""
    if _np is not None and isinstance(values, _np.ndarray):
        if values.ndim != 2:
            raise ValueError(f"{what}: expected a 2-D array (n, dimension), got shape {values.shape}")
        rows: List[List[float]] = values.astype(_np.float32, copy=False).tolist()
    else:
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            raise TypeError(f"{what}: expected a 2-D numpy array or a sequence of vectors, got {type(values).__name__}")
        rows = [vector(row, f"{what}[{i}]") for i, row in enumerate(values)]
    if len(rows) != count:
        raise ValueError(f"{what}: {len(rows)} vectors for {count} ids")
    return rows


def point(point_id: str, row: List[float], payload: Optional[Mapping[str, Any]]) -> point_pb2.Point:
    message = point_pb2.Point(id=point_id, vector=row)
    if payload is not None:
        if not isinstance(payload, Mapping):
            raise TypeError(f"payload of point {point_id!r}: expected a dict, got {type(payload).__name__}")
        message.payload.update(payload)
    return message


def points(ids: Sequence[str], rows: Any, payloads: Optional[Sequence[Optional[Payload]]]) -> List[point_pb2.Point]:
    """Column-wise ids, vectors and payloads → Point messages (the lengths must agree)."""
    if isinstance(ids, str):
        raise TypeError("ids: expected a sequence of str, got one str")
    ids = list(ids)
    matrix = vectors(rows, len(ids))
    if payloads is None:
        return [point(i, row, None) for i, row in zip(ids, matrix)]
    payloads = list(payloads)
    if len(payloads) != len(ids):
        raise ValueError(f"payloads: {len(payloads)} payloads for {len(ids)} ids")
    return [point(i, row, p) for i, row, p in zip(ids, matrix, payloads)]


def filter_message(value: Any) -> Optional[point_pb2.Filter]:
    """A filter as a dict in the proto3 JSON form of ``vectordb.v1.Filter`` (as in the README:
    ``{"must": [{"field": {"key": "lang", "equals": "en"}}]}``), a ``Filter`` message, or None."""
    if value is None:
        return None
    if isinstance(value, point_pb2.Filter):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"filter: expected a dict or a vectordb.v1.Filter, got {type(value).__name__}")
    message = point_pb2.Filter()
    try:
        json_format.ParseDict(value, message)
    except json_format.ParseError as error:
        raise ValueError(f"filter: {error}") from None
    return message


def payload_struct(payload: Any, what: str = "payload") -> struct_pb2.Struct:
    """A payload dict as a ``google.protobuf.Struct``."""
    if not isinstance(payload, Mapping):
        raise TypeError(f"{what}: expected a dict, got {type(payload).__name__}")
    struct = struct_pb2.Struct()
    struct.update(payload)
    return struct


def alias_action(item: Any, index: int) -> collection_service_pb2.AliasAction:
    """One action of ``Client.update_aliases``: a ``CreateAlias``/``DeleteAlias``/``RenameAlias``, a
    dict in the proto3 JSON form of ``vectordb.v1.AliasAction`` (``{"create_alias": {"alias": …,
    "collection": …}}``), or an ``AliasAction`` message."""
    if isinstance(item, collection_service_pb2.AliasAction):
        return item
    if isinstance(item, CreateAlias):
        return collection_service_pb2.AliasAction(
            create_alias=collection_service_pb2.CreateAlias(alias=item.alias, collection=item.collection)
        )
    if isinstance(item, DeleteAlias):
        return collection_service_pb2.AliasAction(delete_alias=collection_service_pb2.DeleteAlias(alias=item.alias))
    if isinstance(item, RenameAlias):
        return collection_service_pb2.AliasAction(
            rename_alias=collection_service_pb2.RenameAlias(old_alias=item.old_alias, new_alias=item.new_alias)
        )
    if isinstance(item, Mapping):
        message = collection_service_pb2.AliasAction()
        try:
            json_format.ParseDict(item, message)
        except json_format.ParseError as error:
            raise ValueError(f"actions[{index}]: {error}") from None
        return message
    raise TypeError(
        f"actions[{index}]: expected a CreateAlias, DeleteAlias, RenameAlias, dict or AliasAction, got {type(item).__name__}"
    )


def snapshot_info(info: snapshot_service_pb2.SnapshotInfo) -> SnapshotInfo:
    created_at: Optional[datetime] = None
    if info.HasField("created_at"):
        created_at = info.created_at.ToDatetime(tzinfo=timezone.utc)
    return SnapshotInfo(
        name=info.name,
        size_bytes=info.size_bytes,
        sha256=info.sha256,
        collection=info.collection,
        created_at=created_at,
        sequence=info.sequence,
        point_count=info.point_count,
    )


def query_items(queries: Any) -> List[Any]:
    """The queries of ``Client.batch_search``: rows of a 2-D numpy array, or the items of a sequence."""
    if _np is not None and isinstance(queries, _np.ndarray):
        if queries.ndim != 2:
            raise ValueError(f"queries: expected a 2-D array (n, dimension), got shape {queries.shape}")
        return list(queries)
    if isinstance(queries, (str, bytes, Mapping)) or not isinstance(queries, Iterable):
        raise TypeError(f"queries: expected a 2-D numpy array or a sequence, got {type(queries).__name__}")
    return list(queries)


def python_value(value: struct_pb2.Value) -> Any:
    """A google.protobuf.Value as plain Python (dict, list, str, int/float, bool, None)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if math.isfinite(number) and number.is_integer() and abs(number) <= _EXACT_INT_MAX:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return payload_dict(value.struct_value)
    if kind == "list_value":
        return [python_value(item) for item in value.list_value.values]
    return None  # null_value, or no kind set


def payload_dict(struct: struct_pb2.Struct) -> Dict[str, Any]:
    return {key: python_value(item) for key, item in struct.fields.items()}


# A point stored without a payload comes back without one; asked for payloads, the client gives {}.
def hit(scored: point_pb2.ScoredPoint, with_payload: bool, with_vector: bool) -> Hit:
    return Hit(
        id=scored.id,
        score=scored.score,
        payload=payload_dict(scored.payload) if with_payload else None,
        vector=list(scored.vector) if with_vector else None,
    )


def stored_point(message: point_pb2.Point, with_payload: bool, with_vector: bool) -> Point:
    return Point(
        id=message.id,
        vector=list(message.vector) if with_vector else None,
        payload=payload_dict(message.payload) if with_payload else None,
    )


def ingest_batches(items: Iterable[Any], batch_size: int) -> Iterator[List[point_pb2.Point]]:
    """Groups the items of ``Client.ingest`` into lists of at most ``batch_size`` Point messages.

    An item is a point (a ``Point``, a dict with ``"id"``, ``"vector"`` and optionally ``"payload"``,
    or a tuple ``(id, vector[, payload])``) or a batch (a ``Batch``, a dict with ``"ids"`` and
    ``"vectors"`` and optionally ``"payloads"``, or a tuple ``(ids, vectors[, payloads])`` where ids
    is a sequence of str and vectors a 2-D array). Consecutive points are grouped; a batch is sent on
    its own, split into chunks of ``batch_size``. Lazy: an item is read only when the previous message
    has been handed to gRPC, so an unbounded generator is fine.
    """
    pending: List[point_pb2.Point] = []
    for index, item in enumerate(items):
        batch = _as_batch(item)
        if batch is None:
            pid, row, payload = _as_point(item, index)
            pending.append(point(pid, vector(row, f"item {index} ({pid!r}).vector"), payload))
            if len(pending) == batch_size:
                yield pending
                pending = []
            continue
        if pending:
            yield pending
            pending = []
        messages = points(*batch)
        for start in range(0, len(messages), batch_size):
            yield messages[start : start + batch_size]
    if pending:
        yield pending


def _as_batch(item: Any) -> Optional[_BatchColumns]:
    if isinstance(item, Batch):
        return (item.ids, item.vectors, item.payloads)
    if isinstance(item, Mapping) and "ids" in item:
        return (item["ids"], item["vectors"], item.get("payloads"))
    if isinstance(item, tuple) and 2 <= len(item) <= 3 and not isinstance(item[0], str):
        return (item[0], item[1], item[2] if len(item) == 3 else None)
    return None


def _as_point(item: Any, index: int) -> _PointFields:
    if isinstance(item, Point):
        return item.id, item.vector, item.payload
    if isinstance(item, Mapping) and "id" in item:
        return item["id"], item["vector"], item.get("payload")
    if isinstance(item, tuple) and 2 <= len(item) <= 3 and isinstance(item[0], str):
        return item[0], item[1], item[2] if len(item) == 3 else None
    raise TypeError(
        f"ingest item {index}: expected a Point, Batch, dict with 'id' or 'ids', or a tuple "
        f"(id, vector[, payload]) / (ids, vectors[, payloads]); got {type(item).__name__}"
    )
