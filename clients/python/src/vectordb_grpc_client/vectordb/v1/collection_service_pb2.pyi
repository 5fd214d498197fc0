from . import collection_pb2 as _collection_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateCollectionRequest(_message.Message):
    __slots__ = ["dimension", "distance", "hnsw", "name", "quantization"]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTIZATION_FIELD_NUMBER: _ClassVar[int]
    dimension: int
    distance: _collection_pb2.Distance
    hnsw: _collection_pb2.HnswConfig
    name: str
    quantization: _collection_pb2.QuantizationConfig
    def __init__(self, name: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[_Union[_collection_pb2.Distance, str]] = ..., hnsw: _Optional[_Union[_collection_pb2.HnswConfig, _Mapping]] = ..., quantization: _Optional[_Union[_collection_pb2.QuantizationConfig, _Mapping]] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: _collection_pb2.CollectionInfo
    def __init__(self, collection: _Optional[_Union[_collection_pb2.CollectionInfo, _Mapping]] = ...) -> None: ...

class DeleteCollectionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ["deleted_points"]
    DELETED_POINTS_FIELD_NUMBER: _ClassVar[int]
    deleted_points: int
    def __init__(self, deleted_points: _Optional[int] = ...) -> None: ...

class GetCollectionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCollectionResponse(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: _collection_pb2.CollectionInfo
    def __init__(self, collection: _Optional[_Union[_collection_pb2.CollectionInfo, _Mapping]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ["collections"]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[_collection_pb2.CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[_collection_pb2.CollectionInfo, _Mapping]]] = ...) -> None: ...
