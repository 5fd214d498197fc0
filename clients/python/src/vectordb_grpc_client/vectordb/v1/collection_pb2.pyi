from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
DISTANCE_COSINE: Distance
DISTANCE_DOT: Distance
DISTANCE_EUCLIDEAN: Distance
DISTANCE_UNSPECIFIED: Distance
SCALAR_TYPE_INT8: ScalarType
SCALAR_TYPE_UNSPECIFIED: ScalarType

class CollectionInfo(_message.Message):
    __slots__ = ["applied_sequence", "dimension", "distance", "hnsw", "indexed_point_count", "memory_bytes", "name", "point_count", "quantization", "quantization_trained", "quantized_vector_bytes", "recall_estimate", "recall_samples", "replication_lag", "segments", "vector_bytes"]
    APPLIED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    INDEXED_POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_TRAINED_FIELD_NUMBER: _ClassVar[int]
    QUANTIZED_VECTOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECALL_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    RECALL_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_LAG_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_BYTES_FIELD_NUMBER: _ClassVar[int]
    applied_sequence: int
    dimension: int
    distance: Distance
    hnsw: HnswConfig
    indexed_point_count: int
    memory_bytes: int
    name: str
    point_count: int
    quantization: QuantizationConfig
    quantization_trained: bool
    quantized_vector_bytes: int
    recall_estimate: float
    recall_samples: int
    replication_lag: int
    segments: _containers.RepeatedCompositeFieldContainer[SegmentInfo]
    vector_bytes: int
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[_Union[Distance, str]] = ..., hnsw: _Optional[_Union[HnswConfig, _Mapping]] = ..., point_count: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., indexed_point_count: _Optional[int] = ..., quantization: _Optional[_Union[QuantizationConfig, _Mapping]] = ..., vector_bytes: _Optional[int] = ..., quantized_vector_bytes: _Optional[int] = ..., quantization_trained: bool = ..., recall_estimate: _Optional[float] = ..., recall_samples: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[SegmentInfo, _Mapping]]] = ..., applied_sequence: _Optional[int] = ..., replication_lag: _Optional[int] = ...) -> None: ...

class HnswConfig(_message.Message):
    __slots__ = ["ef", "ef_construction", "m"]
    EF_CONSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    EF_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    ef: int
    ef_construction: int
    m: int
    def __init__(self, m: _Optional[int] = ..., ef_construction: _Optional[int] = ..., ef: _Optional[int] = ...) -> None: ...

class QuantizationConfig(_message.Message):
    __slots__ = ["scalar"]
    SCALAR_FIELD_NUMBER: _ClassVar[int]
    scalar: ScalarQuantization
    def __init__(self, scalar: _Optional[_Union[ScalarQuantization, _Mapping]] = ...) -> None: ...

class ScalarQuantization(_message.Message):
    __slots__ = ["always_ram", "quantile", "type"]
    ALWAYS_RAM_FIELD_NUMBER: _ClassVar[int]
    QUANTILE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    always_ram: bool
    quantile: float
    type: ScalarType
    def __init__(self, type: _Optional[_Union[ScalarType, str]] = ..., quantile: _Optional[float] = ..., always_ram: bool = ...) -> None: ...

class SegmentInfo(_message.Message):
    __slots__ = ["deleted_count", "file_bytes", "id", "indexed", "memory_bytes", "point_count", "sealed"]
    DELETED_COUNT_FIELD_NUMBER: _ClassVar[int]
    FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    deleted_count: int
    file_bytes: int
    id: int
    indexed: bool
    memory_bytes: int
    point_count: int
    sealed: bool
    def __init__(self, id: _Optional[int] = ..., point_count: _Optional[int] = ..., deleted_count: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., indexed: bool = ..., sealed: bool = ..., file_bytes: _Optional[int] = ...) -> None: ...

class Distance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ScalarType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
