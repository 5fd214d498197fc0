from . import collection_pb2 as _collection_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AliasAction(_message.Message):
    __slots__ = ["create_alias", "delete_alias", "rename_alias"]
    CREATE_ALIAS_FIELD_NUMBER: _ClassVar[int]
    DELETE_ALIAS_FIELD_NUMBER: _ClassVar[int]
    RENAME_ALIAS_FIELD_NUMBER: _ClassVar[int]
    create_alias: CreateAlias
    delete_alias: DeleteAlias
    rename_alias: RenameAlias
    def __init__(self, create_alias: _Optional[_Union[CreateAlias, _Mapping]] = ..., delete_alias: _Optional[_Union[DeleteAlias, _Mapping]] = ..., rename_alias: _Optional[_Union[RenameAlias, _Mapping]] = ...) -> None: ...

class AliasDescription(_message.Message):
    __slots__ = ["alias", "collection"]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    alias: str
    collection: str
    def __init__(self, alias: _Optional[str] = ..., collection: _Optional[str] = ...) -> None: ...

class CreateAlias(_message.Message):
    __slots__ = ["alias", "collection"]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    alias: str
    collection: str
    def __init__(self, alias: _Optional[str] = ..., collection: _Optional[str] = ...) -> None: ...

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

class DeleteAlias(_message.Message):
    __slots__ = ["alias"]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    alias: str
    def __init__(self, alias: _Optional[str] = ...) -> None: ...

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

class ListAliasesRequest(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class ListAliasesResponse(_message.Message):
    __slots__ = ["aliases"]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    aliases: _containers.RepeatedCompositeFieldContainer[AliasDescription]
    def __init__(self, aliases: _Optional[_Iterable[_Union[AliasDescription, _Mapping]]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ["collections"]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[_collection_pb2.CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[_collection_pb2.CollectionInfo, _Mapping]]] = ...) -> None: ...

class RenameAlias(_message.Message):
    __slots__ = ["new_alias", "old_alias"]
    NEW_ALIAS_FIELD_NUMBER: _ClassVar[int]
    OLD_ALIAS_FIELD_NUMBER: _ClassVar[int]
    new_alias: str
    old_alias: str
    def __init__(self, old_alias: _Optional[str] = ..., new_alias: _Optional[str] = ...) -> None: ...

class UpdateAliasesRequest(_message.Message):
    __slots__ = ["actions"]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedCompositeFieldContainer[AliasAction]
    def __init__(self, actions: _Optional[_Iterable[_Union[AliasAction, _Mapping]]] = ...) -> None: ...

class UpdateAliasesResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class UpdateCollectionRequest(_message.Message):
    __slots__ = ["hnsw", "name"]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    hnsw: _collection_pb2.HnswConfig
    name: str
    def __init__(self, name: _Optional[str] = ..., hnsw: _Optional[_Union[_collection_pb2.HnswConfig, _Mapping]] = ...) -> None: ...

class UpdateCollectionResponse(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: _collection_pb2.CollectionInfo
    def __init__(self, collection: _Optional[_Union[_collection_pb2.CollectionInfo, _Mapping]] = ...) -> None: ...
