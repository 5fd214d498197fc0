from google.protobuf import struct_pb2 as _struct_pb2
from . import point_pb2 as _point_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BatchSearchRequest(_message.Message):
    __slots__ = ["collection", "min_sequence", "queries"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    min_sequence: int
    queries: _containers.RepeatedCompositeFieldContainer[_point_pb2.SearchQuery]
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[_point_pb2.SearchQuery, _Mapping]]] = ..., min_sequence: _Optional[int] = ...) -> None: ...

class BatchSearchResponse(_message.Message):
    __slots__ = ["results"]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_point_pb2.SearchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[_point_pb2.SearchResult, _Mapping]]] = ...) -> None: ...

class ClearPayloadRequest(_message.Message):
    __slots__ = ["collection", "filter", "ids"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _point_pb2.Filter
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ...) -> None: ...

class ClearPayloadResponse(_message.Message):
    __slots__ = ["sequence", "updated"]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    updated: int
    def __init__(self, updated: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class CountRequest(_message.Message):
    __slots__ = ["collection", "filter"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _point_pb2.Filter
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ...) -> None: ...

class CountResponse(_message.Message):
    __slots__ = ["count"]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class DeletePayloadKeysRequest(_message.Message):
    __slots__ = ["collection", "filter", "ids", "keys"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _point_pb2.Filter
    ids: _containers.RepeatedScalarFieldContainer[str]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class DeletePayloadKeysResponse(_message.Message):
    __slots__ = ["sequence", "updated"]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    updated: int
    def __init__(self, updated: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ["collection", "filter", "ids"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _point_pb2.Filter
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ["deleted", "sequence"]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    sequence: int
    def __init__(self, deleted: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ["collection", "ids", "min_sequence", "with_payload", "with_vector"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    min_sequence: int
    with_payload: bool
    with_vector: bool
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., with_payload: bool = ..., with_vector: bool = ..., min_sequence: _Optional[int] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ["points"]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[_point_pb2.Point]
    def __init__(self, points: _Optional[_Iterable[_Union[_point_pb2.Point, _Mapping]]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ["collection", "points"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    points: _containers.RepeatedCompositeFieldContainer[_point_pb2.Point]
    def __init__(self, collection: _Optional[str] = ..., points: _Optional[_Iterable[_Union[_point_pb2.Point, _Mapping]]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ["batches", "inserted", "updated"]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    batches: int
    inserted: int
    updated: int
    def __init__(self, batches: _Optional[int] = ..., inserted: _Optional[int] = ..., updated: _Optional[int] = ...) -> None: ...

class IngestStreamRequest(_message.Message):
    __slots__ = ["batch_seq", "collection", "ingest_id", "points"]
    BATCH_SEQ_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INGEST_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    batch_seq: int
    collection: str
    ingest_id: str
    points: _containers.RepeatedCompositeFieldContainer[_point_pb2.Point]
    def __init__(self, collection: _Optional[str] = ..., ingest_id: _Optional[str] = ..., batch_seq: _Optional[int] = ..., points: _Optional[_Iterable[_Union[_point_pb2.Point, _Mapping]]] = ...) -> None: ...

class IngestStreamResponse(_message.Message):
    __slots__ = ["durable_batch_seq", "inserted", "updated"]
    DURABLE_BATCH_SEQ_FIELD_NUMBER: _ClassVar[int]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    durable_batch_seq: int
    inserted: int
    updated: int
    def __init__(self, durable_batch_seq: _Optional[int] = ..., inserted: _Optional[int] = ..., updated: _Optional[int] = ...) -> None: ...

class OverwritePayloadRequest(_message.Message):
    __slots__ = ["collection", "filter", "ids", "payload"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _point_pb2.Filter
    ids: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class OverwritePayloadResponse(_message.Message):
    __slots__ = ["sequence", "updated"]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    updated: int
    def __init__(self, updated: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class ScrollRequest(_message.Message):
    __slots__ = ["collection", "cursor", "filter", "limit", "min_sequence", "with_payload", "with_vector"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    collection: str
    cursor: str
    filter: _point_pb2.Filter
    limit: int
    min_sequence: int
    with_payload: bool
    with_vector: bool
    def __init__(self, collection: _Optional[str] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., with_payload: bool = ..., with_vector: bool = ..., min_sequence: _Optional[int] = ...) -> None: ...

class ScrollResponse(_message.Message):
    __slots__ = ["next_cursor", "points"]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    next_cursor: str
    points: _containers.RepeatedCompositeFieldContainer[_point_pb2.Point]
    def __init__(self, points: _Optional[_Iterable[_Union[_point_pb2.Point, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ["collection", "ef", "exact", "filter", "k", "min_sequence", "oversampling", "rescore", "score_threshold", "vector", "with_payload", "with_vector"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    MIN_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    OVERSAMPLING_FIELD_NUMBER: _ClassVar[int]
    RESCORE_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTOR_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ef: int
    exact: bool
    filter: _point_pb2.Filter
    k: int
    min_sequence: int
    oversampling: float
    rescore: bool
    score_threshold: float
    vector: _containers.RepeatedScalarFieldContainer[float]
    with_payload: bool
    with_vector: bool
    def __init__(self, collection: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ..., score_threshold: _Optional[float] = ..., ef: _Optional[int] = ..., exact: bool = ..., with_payload: bool = ..., with_vector: bool = ..., rescore: bool = ..., oversampling: _Optional[float] = ..., min_sequence: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ["hits"]
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[_point_pb2.ScoredPoint]
    def __init__(self, hits: _Optional[_Iterable[_Union[_point_pb2.ScoredPoint, _Mapping]]] = ...) -> None: ...

class SetPayloadRequest(_message.Message):
    __slots__ = ["collection", "filter", "ids", "payload"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: _point_pb2.Filter
    ids: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[_point_pb2.Filter, _Mapping]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SetPayloadResponse(_message.Message):
    __slots__ = ["sequence", "updated"]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    updated: int
    def __init__(self, updated: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ["collection", "points"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    points: _containers.RepeatedCompositeFieldContainer[_point_pb2.Point]
    def __init__(self, collection: _Optional[str] = ..., points: _Optional[_Iterable[_Union[_point_pb2.Point, _Mapping]]] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ["inserted", "sequence", "updated"]
    INSERTED_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    inserted: int
    sequence: int
    updated: int
    def __init__(self, inserted: _Optional[int] = ..., updated: _Optional[int] = ..., sequence: _Optional[int] = ...) -> None: ...
