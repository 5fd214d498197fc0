"""The typed client: one gRPC channel, one method per RPC, plain Python values in and out."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import time
from typing import (
    IO,
    Any,
    Callable,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

import grpc

from . import _convert, _health, _ingest_stream
from .errors import VectorDbError
from .models import (
    Alias,
    AliasActionItem,
    CollectionInfo,
    CreateAlias,
    DeleteAlias,
    Hit,
    IngestResult,
    IngestStreamResult,
    Payload,
    Point,
    Query,
    RenameAlias,
    ScrollPage,
    SnapshotInfo,
    UpsertResult,
)
from .vectordb.v1 import (
    collection_pb2,
    collection_service_pb2,
    collection_service_pb2_grpc,
    point_pb2,
    point_service_pb2,
    point_service_pb2_grpc,
    snapshot_service_pb2,
    snapshot_service_pb2_grpc,
)

DEFAULT_TIMEOUT_S = 30.0
"""Deadline of every call except ``ingest``, in seconds, unless the client or the call says otherwise."""
DEFAULT_MESSAGE_BYTES_MAX = 64 * 1024 * 1024
"""Largest message sent or received, in bytes: the server's default ``--message-bytes-max``.
(grpcio's own default for received messages, 4 MiB, is too small for a large ``get`` or ``batch_search``.)"""
DEFAULT_INGEST_BATCH_SIZE = 1000
"""Points per ``Ingest`` message when ``ingest`` groups points; the server accepts up to 10,000 by default."""
DEFAULT_STALL_TIMEOUT_S = 60.0
"""``ingest_stream`` gives up when no batch is acknowledged for this long while some wait, in seconds."""
DEFAULT_ABORTED_RETRY_S = 10.0
"""How long ``ingest_stream`` retries while the server still holds a previous stream of the same load
(``ABORTED``, e.g. just after a client died), in seconds."""
SNAPSHOT_CHUNK_BYTES = 1024 * 1024
"""Bytes per message of ``restore_snapshot`` (the server sends ``download_snapshot`` in chunks of 1 MiB too)."""

PathOrStream = Union[str, "os.PathLike[str]", IO[bytes]]
"""A file path, or a binary file object (``open(..., "rb")``/``"wb"``, ``io.BytesIO``, a socket file…)."""

TlsOption = Union[bool, bytes, grpc.ChannelCredentials, None]
_T = TypeVar("_T")
# Marks "not given" for timeouts, where None means "no deadline".
_CLIENT_DEFAULT: Any = object()
# Pause between attempts while an ingest_stream's opening is refused with ABORTED, in seconds.
_ABORTED_RETRY_PAUSE_S = 0.25
# Bytes read at a time to hash a file for restore_snapshot.
_HASH_READ_BYTES = 1024 * 1024


class Client:
    """A client of one vectordb server.

    ``Client("127.0.0.1:50051")`` opens a plaintext channel (it connects lazily, on the first call).

    Args:
        address: ``host:port`` of the server.
        api_key: sent as ``api-key`` metadata with every call when given.
        tls: ``False``/``None`` for plaintext; ``True`` for TLS with the system's root certificates;
            PEM root certificate ``bytes`` for TLS trusting those; or any ``grpc.ChannelCredentials``.
        timeout: deadline in seconds of each call except ``ingest`` (``None``: no deadline); each
            method also takes ``timeout=`` for that call.
        message_bytes_max: largest message sent or received, in bytes.
        options: extra grpcio channel options, as ``[(name, value), ...]``.

    Every method raises ``VectorDbError`` (with the gRPC status code, its name and the server's
    details) when the call fails, and ``ValueError``/``TypeError`` for arguments it can refuse before
    calling. The client is thread-safe (grpcio channels are); use it as a context manager or call
    ``close()``.
    """

    def __init__(
        self,
        address: str,
        api_key: Optional[str] = None,
        tls: TlsOption = False,
        *,
        timeout: Optional[float] = DEFAULT_TIMEOUT_S,
        message_bytes_max: int = DEFAULT_MESSAGE_BYTES_MAX,
        options: Sequence[Tuple[str, Any]] = (),
    ) -> None:
        channel_options = [
            ("grpc.max_send_message_length", message_bytes_max),
            ("grpc.max_receive_message_length", message_bytes_max),
            *options,
        ]
        credentials = _channel_credentials(tls)
        if credentials is None:
            self.channel: grpc.Channel = grpc.insecure_channel(address, options=channel_options)
        else:
            self.channel = grpc.secure_channel(address, credentials, options=channel_options)
        self.address = address
        self.timeout = timeout
        self._metadata: Tuple[Tuple[str, str], ...] = (("api-key", api_key),) if api_key is not None else ()
        self._collections = collection_service_pb2_grpc.CollectionServiceStub(self.channel)
        self._points = point_service_pb2_grpc.PointServiceStub(self.channel)
        self._snapshots = snapshot_service_pb2_grpc.SnapshotServiceStub(self.channel)
        self._health_check = self.channel.unary_unary(
            _health.CHECK_METHOD,
            request_serializer=_health.HealthCheckRequest.SerializeToString,
            response_deserializer=_health.HealthCheckResponse.FromString,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.address!r})"

    # -- collections -----------------------------------------------------------------------------

    def create_collection(
        self,
        name: str,
        dimension: int,
        distance: str = "cosine",
        *,
        m: Optional[int] = None,
        ef_construction: Optional[int] = None,
        ef: Optional[int] = None,
        quantization: Optional[str] = None,
        quantile: Optional[float] = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> CollectionInfo:
        """Creates a collection; durable when this returns.

        Args:
            name: 1 to 64 characters from ``[A-Za-z0-9_-]``.
            dimension: components per vector (1 to the server's ``--dimension-max``, 65,536 by default).
            distance: ``"cosine"`` (score: cosine similarity), ``"dot"`` (inner product) or
                ``"euclidean"`` (L2 distance).
            m, ef_construction, ef: HNSW parameters; ``None`` takes the server's defaults (16, 200, 64).
            quantization: ``"int8"`` for scalar quantization (searches score int8 codes, then rescore
                the best candidates on float32); ``None``: none. Not for ``"dot"``.
            quantile: with ``quantization``, the share of each component's values the int8 range
                spans, in (0.5, 1] (``None``: the server's 0.99).

        Raises:
            VectorDbError: ``ALREADY_EXISTS``; ``INVALID_ARGUMENT`` for a bad name, dimension or
                parameter; ``RESOURCE_EXHAUSTED`` past the server's collection limit.
            ValueError: an unknown distance name.
        """
        request = collection_service_pb2.CreateCollectionRequest(
            name=name,
            dimension=dimension,
            distance=_convert.distance_enum(distance),
            hnsw=collection_pb2.HnswConfig(m=m or 0, ef_construction=ef_construction or 0, ef=ef or 0),
        )
        if quantization is not None:
            if quantization != "int8":
                raise ValueError(f"quantization: expected 'int8', got {quantization!r}")
            request.quantization.scalar.type = collection_pb2.SCALAR_TYPE_INT8
            if quantile is not None:
                request.quantization.scalar.quantile = quantile
        elif quantile is not None:
            raise ValueError("quantile: needs quantization='int8'")
        response = self._call(self._collections.CreateCollection, request, timeout)
        return _convert.collection_info(response.collection)

    def get_collection(self, name: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> CollectionInfo:
        """Describes a collection (dimension, distance, HNSW parameters, counts). ``NOT_FOUND`` if absent."""
        request = collection_service_pb2.GetCollectionRequest(name=name)
        return _convert.collection_info(self._call(self._collections.GetCollection, request, timeout).collection)

    def update_collection(
        self, name: str, *, ef: int, timeout: Optional[float] = _CLIENT_DEFAULT
    ) -> CollectionInfo:
        """Changes the settings of a collection that need no rebuild of its index; durable when it returns.

        Args:
            name: the collection, or an alias of it.
            ef: the new default HNSW candidate list size of searches that do not give their own
                (1 to the server's ``--ef-max``, 4,096 by default). ``m`` and ``ef_construction`` shape
                the graph and cannot change: create a new collection, load it and switch an alias to it.

        Returns the collection with its new settings.

        Raises:
            VectorDbError: ``NOT_FOUND``; ``INVALID_ARGUMENT`` for ``ef`` out of range.
            ValueError: ``ef`` below 1 (0 would mean "unchanged" on the wire).
        """
        if ef < 1:
            raise ValueError(f"ef: expected at least 1, got {ef}")
        request = collection_service_pb2.UpdateCollectionRequest(name=name, hnsw=collection_pb2.HnswConfig(ef=ef))
        return _convert.collection_info(self._call(self._collections.UpdateCollection, request, timeout).collection)

    def list_collections(self, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> List[CollectionInfo]:
        """Every collection, sorted by name."""
        request = collection_service_pb2.ListCollectionsRequest()
        response = self._call(self._collections.ListCollections, request, timeout)
        return [_convert.collection_info(info) for info in response.collections]

    def delete_collection(self, name: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> int:
        """Drops a collection and its files; returns how many points it held. ``NOT_FOUND`` if absent."""
        request = collection_service_pb2.DeleteCollectionRequest(name=name)
        deleted: int = self._call(self._collections.DeleteCollection, request, timeout).deleted_points
        return deleted

    # -- aliases ---------------------------------------------------------------------------------

    def update_aliases(
        self, actions: Sequence[Union[AliasActionItem, Mapping[str, Any], Any]], *, timeout: Optional[float] = _CLIENT_DEFAULT
    ) -> None:
        """Applies alias actions in order, atomically: all or none, and no call ever sees a state between
        two of them; durable when it returns.

        Args:
            actions: 1 or more ``CreateAlias(alias, collection)``, ``DeleteAlias(alias)`` and
                ``RenameAlias(old_alias, new_alias)`` (or dicts in the proto3 JSON form of
                ``vectordb.v1.AliasAction``, or ``AliasAction`` messages). ``[DeleteAlias("live"),
                CreateAlias("live", "docs_v2")]`` moves an alias with no moment where it is missing.

        Raises:
            VectorDbError: ``INVALID_ARGUMENT`` for a bad name or no action; ``NOT_FOUND`` for an unknown
                alias or collection; ``ALREADY_EXISTS`` for a name taken by a collection or an alias;
                ``RESOURCE_EXHAUSTED`` past the server's ``--aliases-max``. Nothing is applied then.
            TypeError, ValueError: an action of another type, or a malformed dict.
        """
        if isinstance(actions, (str, bytes, Mapping)):
            raise TypeError(f"actions: expected a sequence of actions, got {type(actions).__name__}")
        request = collection_service_pb2.UpdateAliasesRequest(
            actions=[_convert.alias_action(item, i) for i, item in enumerate(actions)]
        )
        self._call(self._collections.UpdateAliases, request, timeout)

    def create_alias(self, alias: str, collection: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> None:
        """Creates ``alias`` (1 to 64 characters from ``[A-Za-z0-9_-]``) for ``collection`` (its own name).
        ``ALREADY_EXISTS`` when a collection or an alias has that name; ``NOT_FOUND`` for no such collection."""
        self.update_aliases([CreateAlias(alias, collection)], timeout=timeout)

    def delete_alias(self, alias: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> None:
        """Deletes an alias (its collection stays). ``NOT_FOUND`` when there is no such alias."""
        self.update_aliases([DeleteAlias(alias)], timeout=timeout)

    def rename_alias(self, old_alias: str, new_alias: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> None:
        """Renames an alias; it keeps naming the same collection. ``NOT_FOUND`` for an unknown
        ``old_alias``; ``ALREADY_EXISTS`` when ``new_alias`` is taken."""
        self.update_aliases([RenameAlias(old_alias, new_alias)], timeout=timeout)

    def switch_alias(self, alias: str, collection: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> None:
        """Points an existing alias at another collection in one atomic call (delete + create): every call
        naming the alias meanwhile reaches the old collection or the new one, never ``NOT_FOUND``.
        ``NOT_FOUND`` (and nothing changes) when the alias does not exist: use ``create_alias`` for a new one."""
        self.update_aliases([DeleteAlias(alias), CreateAlias(alias, collection)], timeout=timeout)

    def list_aliases(
        self, collection: Optional[str] = None, *, timeout: Optional[float] = _CLIENT_DEFAULT
    ) -> List[Alias]:
        """The aliases, sorted by alias; only those of ``collection`` (its name or one of its aliases)
        when given."""
        request = collection_service_pb2.ListAliasesRequest(collection=collection or "")
        response = self._call(self._collections.ListAliases, request, timeout)
        return [Alias(alias=a.alias, collection=a.collection) for a in response.aliases]

    # -- points ----------------------------------------------------------------------------------

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: Any,
        payloads: Optional[Sequence[Optional[Payload]]] = None,
        *,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> UpsertResult:
        """Inserts points, or replaces the vector and payload of ids that exist; all or nothing.

        Args:
            ids: n point ids (1 to 256 UTF-8 bytes each, no duplicates).
            vectors: a numpy array of shape (n, dimension) (any float dtype; sent as float32) or a
                sequence of n vectors (lists of numbers or 1-D arrays).
            payloads: n dicts (``None`` entries for points without one), or ``None`` for none at all.

        Raises:
            VectorDbError: ``INVALID_ARGUMENT`` naming the first bad point (dimension, NaN, id,
                payload size, batch size); ``NOT_FOUND`` for an unknown collection.
            ValueError: the numbers of ids, vectors and payloads differ.
        """
        request = point_service_pb2.UpsertRequest(collection=collection, points=_convert.points(ids, vectors, payloads))
        response = self._call(self._points.Upsert, request, timeout)
        return UpsertResult(inserted=response.inserted, updated=response.updated)

    def get(
        self,
        collection: str,
        ids: Sequence[str],
        *,
        with_payload: bool = True,
        with_vector: bool = True,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> List[Point]:
        """The points with these ids that exist, in the order asked; missing ids are left out.
        Cosine collections return unit-length vectors (they are normalised when stored)."""
        request = point_service_pb2.GetRequest(
            collection=collection, ids=_ids(ids), with_payload=with_payload, with_vector=with_vector
        )
        response = self._call(self._points.Get, request, timeout)
        return [_convert.stored_point(p, with_payload, with_vector) for p in response.points]

    def delete(
        self,
        collection: str,
        ids: Optional[Sequence[str]] = None,
        *,
        filter: Any = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> int:
        """Deletes points by ids or by filter (exactly one of the two); returns how many were deleted.

        Raises:
            ValueError: both or neither of ``ids`` and ``filter`` given.
            VectorDbError: ``INVALID_ARGUMENT`` (e.g. an empty filter, refused rather than deleting
                everything); ``NOT_FOUND``.
        """
        if (ids is None) == (filter is None):
            raise ValueError("delete: give exactly one of ids and filter")
        request = point_service_pb2.DeleteRequest(collection=collection)
        if ids is not None:
            request.ids.extend(_ids(ids))
        else:
            request.filter.CopyFrom(_convert.filter_message(filter))
        deleted: int = self._call(self._points.Delete, request, timeout).deleted
        return deleted

    def search(
        self,
        collection: str,
        vector: Any,
        k: int = 10,
        filter: Any = None,
        *,
        score_threshold: Optional[float] = None,
        ef: Optional[int] = None,
        exact: bool = False,
        with_payload: bool = True,
        with_vector: bool = False,
        rescore: Optional[bool] = None,
        oversampling: Optional[float] = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> List[Hit]:
        """The ``k`` points nearest to ``vector``, best first.

        Args:
            vector: a sequence of ``dimension`` numbers or a 1-D numpy array.
            k: number of hits wanted (1 to the server's ``--k-max``, 10,000 by default).
            filter: ``None``, a dict in the proto3 JSON form of ``vectordb.v1.Filter`` (e.g.
                ``{"must": [{"field": {"key": "lang", "equals": "en"}}]}``) or a ``Filter`` message.
            score_threshold: keep hits with ``score >= threshold`` (cosine, dot) or
                ``distance <= threshold`` (euclidean).
            ef: HNSW candidate list size for this query (``None``: the collection's).
            exact: scan every point instead of walking the graph.
            with_payload, with_vector: what each hit carries.
            rescore, oversampling: for a quantized collection, whether the best ``oversampling × k``
                candidates are rescored on float32 (``None``: the server's, true and 2.0).

        Raises:
            VectorDbError: ``INVALID_ARGUMENT`` (dimension, NaN, ``k``/``ef``/``oversampling`` out of
                range, malformed filter); ``NOT_FOUND``.
        """
        request = point_service_pb2.SearchRequest(
            collection=collection,
            vector=_convert.vector(vector),
            k=k,
            filter=_convert.filter_message(filter),
            ef=ef or 0,
            exact=exact,
            with_payload=with_payload,
            with_vector=with_vector,
        )
        if score_threshold is not None:
            request.score_threshold = score_threshold
        if rescore is not None:
            request.rescore = rescore
        if oversampling is not None:
            request.oversampling = oversampling
        response = self._call(self._points.Search, request, timeout)
        return [_convert.hit(h, with_payload, with_vector) for h in response.hits]

    def batch_search(
        self,
        collection: str,
        queries: Any,
        k: int = 10,
        filter: Any = None,
        *,
        score_threshold: Optional[float] = None,
        ef: Optional[int] = None,
        exact: bool = False,
        with_payload: bool = True,
        with_vector: bool = False,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> List[List[Hit]]:
        """Several searches on one collection in one call; one list of hits per query, in order.

        Args:
            queries: a 2-D numpy array (one query vector per row), or a sequence whose items are
                vectors or ``Query`` objects (a ``Query`` field left ``None`` takes the value given here).
            k, filter, score_threshold, ef, exact, with_payload, with_vector: as for ``search``, for
                every query that does not set its own.

        Raises:
            VectorDbError: as ``search``, naming ``queries[i]``; ``INVALID_ARGUMENT`` past the server's
                ``--batch-queries-max`` (1,024 by default).
        """
        shared = Query(
            vector=(),
            k=k,
            filter=filter,
            score_threshold=score_threshold,
            ef=ef,
            exact=exact,
            with_payload=with_payload,
            with_vector=with_vector,
        )
        resolved = [_resolve_query(item, shared) for item in _convert.query_items(queries)]
        request = point_service_pb2.BatchSearchRequest(
            collection=collection, queries=[_query_message(q, i) for i, q in enumerate(resolved)]
        )
        response = self._call(self._points.BatchSearch, request, timeout)
        return [
            [_convert.hit(h, bool(query.with_payload), bool(query.with_vector)) for h in result.hits]
            for query, result in zip(resolved, response.results)
        ]

    def ingest(
        self,
        collection: str,
        items: Iterable[Any],
        *,
        batch_size: int = DEFAULT_INGEST_BATCH_SIZE,
        timeout: Optional[float] = None,
    ) -> IngestResult:
        """Bulk-loads points through the client-streaming ``Ingest`` call.

        Args:
            items: any iterable (a generator is fine) of points or batches:
                a point is a ``Point``, a dict ``{"id", "vector", "payload"?}`` or a tuple
                ``(id, vector[, payload])``; a batch is a ``Batch``, a dict
                ``{"ids", "vectors", "payloads"?}`` or a tuple ``(ids, vectors[, payloads])`` with
                ``vectors`` a 2-D numpy array or a sequence of vectors. Consecutive points are
                grouped into messages of ``batch_size``; a batch is sent as one message (split into
                chunks of ``batch_size`` when larger).
            batch_size: most points per message (the server accepts up to ``--batch-points-max``,
                10,000 by default).
            timeout: deadline in seconds for the whole stream (``None``, the default: no deadline).

        Flow control: grpcio reads the next item only after the previous message has been handed to
        the HTTP/2 transport, and the server reads the next message only after the previous batch is
        durable and applied, so a fast producer is slowed down to the server's pace and the client
        holds about one message at a time, however long ``items`` is.

        Returns the totals. Raises ``VectorDbError`` when the server refuses a batch
        (``INVALID_ARGUMENT`` naming ``batches[i].points[j]``: the batches before it stay applied, that
        batch is not applied at all) and re-raises an exception raised while reading ``items``
        (the stream is then cancelled; the batches already sent stay applied).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size: expected at least 1, got {batch_size}")
        requests = _RecordingIterator(
            point_service_pb2.IngestRequest(collection=collection, points=batch)
            for batch in _convert.ingest_batches(items, batch_size)
        )
        try:
            response = self._points.Ingest(requests, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            if requests.error is not None:
                raise requests.error from None
            raise VectorDbError.from_rpc_error(error) from None
        return IngestResult(batches=response.batches, inserted=response.inserted, updated=response.updated)

    def scroll(
        self,
        collection: str,
        *,
        filter: Any = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        with_payload: bool = True,
        with_vector: bool = False,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> ScrollPage:
        """One page of the points of a collection, in ascending id order.

        Pass each page's ``next_cursor`` as the next call's ``cursor`` until it is ``None``
        (``iter_points`` does that for you). A point that exists for the whole scroll is returned
        exactly once, even while others are written or deleted; the cursor stays valid across writes
        and server restarts.

        Args:
            collection: the collection or an alias.
            filter: only points matching it (a dict or ``Filter`` message, as for ``search``).
            limit: most points in this page (``None``: the server's ``--scroll-points-default``, 100;
                at most ``--scroll-points-max``, 10,000 by default).
            cursor: ``None`` for the first page, else the previous page's ``next_cursor``.
            with_payload, with_vector: what each point carries (``None`` in the ``Point`` otherwise).

        Raises:
            VectorDbError: ``INVALID_ARGUMENT`` for ``limit`` past the maximum, a malformed cursor or
                filter; ``NOT_FOUND``.
        """
        request = point_service_pb2.ScrollRequest(
            collection=collection,
            filter=_convert.filter_message(filter),
            limit=limit if limit is not None else 0,
            cursor=cursor or "",
            with_payload=with_payload,
            with_vector=with_vector,
        )
        response = self._call(self._points.Scroll, request, timeout)
        return ScrollPage(
            points=[_convert.stored_point(p, with_payload, with_vector) for p in response.points],
            next_cursor=response.next_cursor or None,
        )

    def iter_points(
        self,
        collection: str,
        *,
        filter: Any = None,
        page_size: Optional[int] = None,
        with_payload: bool = True,
        with_vector: bool = False,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> Iterator[Point]:
        """Every point of a collection (or every one matching ``filter``), ascending by id: a generator
        that calls ``scroll`` page after page, following ``next_cursor`` to the end.

        Each page is one call of ``page_size`` points (``None``: the server's default, 100), with its
        own ``timeout``; a page is fetched only when the previous one has been consumed, so memory stays
        at one page however large the collection. Same guarantees and errors as ``scroll``.
        """
        cursor: Optional[str] = None
        while True:
            page = self.scroll(
                collection,
                filter=filter,
                limit=page_size,
                cursor=cursor,
                with_payload=with_payload,
                with_vector=with_vector,
                timeout=timeout,
            )
            yield from page.points
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def count(self, collection: str, filter: Any = None, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> int:
        """The exact number of points of a collection, or of those matching ``filter`` (as for ``search``).
        ``NOT_FOUND`` for an unknown collection; ``INVALID_ARGUMENT`` for a malformed filter."""
        request = point_service_pb2.CountRequest(collection=collection, filter=_convert.filter_message(filter))
        count: int = self._call(self._points.Count, request, timeout).count
        return count

    def set_payload(
        self,
        collection: str,
        payload: Payload,
        ids: Optional[Sequence[str]] = None,
        *,
        filter: Any = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> int:
        """Merges ``payload``'s keys into the payload of the points chosen by ``ids`` or by ``filter``
        (exactly one): each key given is added or replaced whole; other keys stay. Durable when it returns.

        Args:
            payload: a dict with at least one key; each resulting payload must stay within the server's
                ``--payload-bytes-max`` (65,536 bytes of JSON by default).
            ids: 1 to 10,000 ids (by default); ids that do not exist are ignored.
            filter: every point matching it (a non-empty dict or ``Filter`` message).

        Returns how many points the update was applied to.

        Raises:
            ValueError: both or neither of ``ids`` and ``filter`` given.
            TypeError: ``payload`` not a dict.
            VectorDbError: ``INVALID_ARGUMENT`` (an empty payload or filter, a payload too large);
                ``NOT_FOUND``.
        """
        request = point_service_pb2.SetPayloadRequest(collection=collection, payload=_convert.payload_struct(payload))
        _select_points(request, ids, filter, "set_payload")
        updated: int = self._call(self._points.SetPayload, request, timeout).updated
        return updated

    def overwrite_payload(
        self,
        collection: str,
        payload: Payload,
        ids: Optional[Sequence[str]] = None,
        *,
        filter: Any = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> int:
        """Replaces the whole payload of the points chosen by ``ids`` or by ``filter`` (exactly one) with
        ``payload`` (``{}`` leaves them an empty payload). Returns how many points changed; arguments and
        errors as ``set_payload``, except that an empty payload is allowed."""
        request = point_service_pb2.OverwritePayloadRequest(collection=collection, payload=_convert.payload_struct(payload))
        _select_points(request, ids, filter, "overwrite_payload")
        updated: int = self._call(self._points.OverwritePayload, request, timeout).updated
        return updated

    def delete_payload_keys(
        self,
        collection: str,
        keys: Sequence[str],
        ids: Optional[Sequence[str]] = None,
        *,
        filter: Any = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> int:
        """Removes ``keys`` from the payload of the points chosen by ``ids`` or by ``filter`` (exactly one).

        Args:
            keys: 1 to 1,024 keys; dots reach into nested objects (``"meta.lang"`` removes ``lang`` from
                the object at ``meta``), as in filters. A key that is not there is ignored.

        Returns how many points the update was applied to. Errors as ``set_payload``.
        """
        if isinstance(keys, str):
            raise TypeError("keys: expected a sequence of str, got one str")
        request = point_service_pb2.DeletePayloadKeysRequest(collection=collection, keys=list(keys))
        _select_points(request, ids, filter, "delete_payload_keys")
        updated: int = self._call(self._points.DeletePayloadKeys, request, timeout).updated
        return updated

    def clear_payload(
        self,
        collection: str,
        ids: Optional[Sequence[str]] = None,
        *,
        filter: Any = None,
        timeout: Optional[float] = _CLIENT_DEFAULT,
    ) -> int:
        """Removes the whole payload of the points chosen by ``ids`` or by ``filter`` (exactly one);
        returns how many points the update was applied to. Errors as ``set_payload``."""
        request = point_service_pb2.ClearPayloadRequest(collection=collection)
        _select_points(request, ids, filter, "clear_payload")
        updated: int = self._call(self._points.ClearPayload, request, timeout).updated
        return updated

    def ingest_stream(
        self,
        collection: str,
        items: Iterable[Any],
        *,
        ingest_id: str,
        batch_size: int = DEFAULT_INGEST_BATCH_SIZE,
        stall_timeout: Optional[float] = DEFAULT_STALL_TIMEOUT_S,
        aborted_retry: float = DEFAULT_ABORTED_RETRY_S,
        on_durable: Optional[Callable[[int, int], None]] = None,
    ) -> IngestStreamResult:
        """A resumable bulk load through ``PointService.IngestStream``: after any failure (the server or
        this process dying, a broken connection), the same call again continues after the last batch
        the server made durable, and no batch is ever applied twice.

        The items are grouped into batches exactly as ``ingest`` groups them and numbered 1, 2, 3, …
        (``batch_seq``). The call opens the stream with ``ingest_id``; the server first answers with
        the load's last durable batch (0 for a new load); the batches up to it are read from ``items``
        but not sent, and the rest are sent, each logged in the server's WAL together with
        (``ingest_id``, ``batch_seq``), durable and applied before the next is read, and acknowledged.
        To resume, call again with the same ``ingest_id``, the same items in the same order and the
        same ``batch_size``, so that batch N holds the same points.

        Args:
            items: as for ``ingest``: points and batches in any of its forms; must yield the same
                sequence on every call of one load (a list, or a function that re-reads a file).
            ingest_id: the load's identity, chosen by you (e.g. ``"sift-2024-06-01"`` or a UUID you
                keep): 1 to 256 bytes of UTF-8. A new id starts a new load. The server remembers the
                1,024 ids of a collection written to most recently.
            batch_size: most points per batch (up to the server's ``--batch-points-max``, 10,000 by default).
            stall_timeout: give up when no batch is acknowledged for this many seconds while some wait
                (``None``: never). The load as a whole has no deadline.
            aborted_retry: for how many seconds to retry while the server still holds another stream
                of this ``ingest_id`` (``ABORTED``, e.g. right after the previous client died).
            on_durable: called on this thread as batches become durable, with the load's durable
                ``batch_seq`` and the points of the load durable so far (including those skipped as
                durable already): enough for a progress bar.

        Returns an ``IngestStreamResult``: where the call resumed, what it sent and the durable
        ``batch_seq`` at the end.

        Raises:
            VectorDbError: ``INVALID_ARGUMENT`` naming ``batches[i]`` (``i``: the message's place in the
                stream, the opening message being 0) and the point; ``NOT_FOUND``; ``ABORTED`` when
                another stream of the load is still open after ``aborted_retry``; ``RESOURCE_EXHAUSTED``
                past the server's open-stream limit; ``DEADLINE_EXCEEDED`` after ``stall_timeout``;
                ``UNAVAILABLE`` when the server goes away. The acknowledged batches stay durable:
                call again with the same ``ingest_id`` to resume.
            ValueError: ``batch_size`` below 1 or an empty ``ingest_id``.
            Any exception raised while reading ``items`` (the stream is cancelled; resume later).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size: expected at least 1, got {batch_size}")
        if not ingest_id:
            raise ValueError("ingest_id: required, 1 to 256 bytes of UTF-8")
        give_up_at = time.monotonic() + aborted_retry
        while True:
            try:
                return self._ingest_stream_once(collection, items, ingest_id, batch_size, stall_timeout, on_durable)
            except _AbortedOpening as refused:
                # Refused before the server read a batch: nothing was taken from items yet.
                if time.monotonic() >= give_up_at:
                    raise refused.error from None
                time.sleep(_ABORTED_RETRY_PAUSE_S)

    def _ingest_stream_once(
        self,
        collection: str,
        items: Iterable[Any],
        ingest_id: str,
        batch_size: int,
        stall_timeout: Optional[float],
        on_durable: Optional[Callable[[int, int], None]],
    ) -> IngestStreamResult:
        state = _ingest_stream.LoadState()
        call: Any = None
        watchdog = _ingest_stream.StallWatchdog(stall_timeout, lambda: call.cancel() if call is not None else None)
        requests = _RecordingIterator(_ingest_stream.requests(collection, ingest_id, items, batch_size, state, watchdog))
        durable, inserted, updated, acknowledged_points = 0, 0, 0, 0
        opened = False
        try:
            call = self._points.IngestStream(requests, metadata=self._metadata)
            watchdog.reset(True)  # the first answer is due
            for response in call:
                durable = response.durable_batch_seq
                if not opened:
                    opened = True
                    state.open(durable)
                    watchdog.reset(False)
                    continue
                inserted += response.inserted
                updated += response.updated
                points, waiting = state.acknowledge(durable)
                acknowledged_points += points
                watchdog.reset(waiting)
                if on_durable is not None:
                    on_durable(durable, state.totals()[1] + acknowledged_points)
        except grpc.RpcError as error:
            if requests.error is not None:
                raise requests.error from None
            if watchdog.stalled:
                raise VectorDbError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"ingest_stream: no acknowledgement from the server for {stall_timeout} s (stall_timeout); "
                    f"batches up to {durable} are durable: call again with ingest_id {ingest_id!r} to resume",
                ) from None
            wrapped = VectorDbError.from_rpc_error(error)
            if wrapped.code == grpc.StatusCode.ABORTED and not opened:
                raise _AbortedOpening(wrapped) from None
            raise wrapped from None
        finally:
            state.close()
            watchdog.stop()
            if call is not None:
                call.cancel()  # no-op once the call has ended; stops it when on_durable raised
        resumed_after, skipped_points, batches = state.totals()
        resumed_after = resumed_after or 0
        if durable < resumed_after + batches:
            raise VectorDbError(
                grpc.StatusCode.INTERNAL,
                f"ingest_stream: the stream ended with batch {durable} of {resumed_after + batches} durable; "
                f"call again with ingest_id {ingest_id!r} to resume",
            )
        return IngestStreamResult(
            ingest_id=ingest_id,
            resumed_after=resumed_after,
            skipped_points=skipped_points,
            batches=batches,
            inserted=inserted,
            updated=updated,
            durable_batch_seq=durable,
        )

    def ingest_progress(
        self, collection: str, ingest_id: str, *, timeout: Optional[float] = _CLIENT_DEFAULT
    ) -> int:
        """The last durable ``batch_seq`` of the load ``ingest_id`` (0 for a load the collection does not
        know): every batch up to it is durable, so ``ingest_stream`` resumes after it. Opens an
        ``IngestStream`` with no batch and closes it. ``ABORTED`` while a stream of that load is open."""
        request = point_service_pb2.IngestStreamRequest(collection=collection, ingest_id=ingest_id)
        try:
            responses = list(
                self._points.IngestStream(
                    iter([request]),
                    timeout=self.timeout if timeout is _CLIENT_DEFAULT else timeout,
                    metadata=self._metadata,
                )
            )
        except grpc.RpcError as error:
            raise VectorDbError.from_rpc_error(error) from None
        if not responses:
            raise VectorDbError(grpc.StatusCode.INTERNAL, "ingest_progress: the server closed the stream without an answer")
        durable: int = responses[0].durable_batch_seq
        return durable

    # -- snapshots -------------------------------------------------------------------------------

    def create_snapshot(self, collection: str, *, timeout: Optional[float] = None) -> SnapshotInfo:
        """Makes a consistent point-in-time snapshot of a collection (every write acknowledged before the
        call, none after the moment it is taken) while reads and writes go on; returns once the file is
        durable on the server, in ``<data-dir>/snapshots/<collection>/``.

        Args:
            collection: the collection or an alias.
            timeout: deadline in seconds (``None``, the default: none; a large collection takes a while).

        Raises:
            VectorDbError: ``NOT_FOUND``; ``DATA_LOSS`` for a collection that failed recovery.
        """
        request = snapshot_service_pb2.CreateSnapshotRequest(collection=collection)
        return _convert.snapshot_info(self._call(self._snapshots.CreateSnapshot, request, timeout).snapshot)

    def list_snapshots(self, collection: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> List[SnapshotInfo]:
        """The snapshots of a collection, oldest first. A dropped collection's snapshots are still listed;
        ``NOT_FOUND`` only when there is neither collection nor snapshot of that name."""
        request = snapshot_service_pb2.ListSnapshotsRequest(collection=collection)
        response = self._call(self._snapshots.ListSnapshots, request, timeout)
        return [_convert.snapshot_info(info) for info in response.snapshots]

    def delete_snapshot(self, collection: str, name: str, *, timeout: Optional[float] = _CLIENT_DEFAULT) -> None:
        """Deletes a snapshot file (``name`` as ``SnapshotInfo.name``). ``NOT_FOUND`` when it does not exist."""
        request = snapshot_service_pb2.DeleteSnapshotRequest(collection=collection, name=name)
        self._call(self._snapshots.DeleteSnapshot, request, timeout)

    def download_snapshot(
        self, collection: str, name: str, destination: PathOrStream, *, timeout: Optional[float] = None
    ) -> SnapshotInfo:
        """Downloads a snapshot file, streamed in chunks of 1 MiB, and checks its size and SHA-256
        against what the server reports.

        Args:
            collection: the collection (or an alias) it was taken of.
            name: the snapshot's file name (``SnapshotInfo.name``).
            destination: a path: the file is written beside it under a temporary name, flushed to disk
                and renamed to the path only once complete and verified (nothing is left otherwise);
                or a binary file object opened for writing, which receives the chunks as they come
                (and holds whatever arrived when the call fails).
            timeout: deadline in seconds for the whole download (``None``, the default: none).

        Returns the ``SnapshotInfo`` the server sent with the first chunk.

        Raises:
            VectorDbError: ``NOT_FOUND``; ``DATA_LOSS`` when the bytes received do not have the size and
                SHA-256 the server reports; any status that ends the stream.
            OSError: the destination cannot be written.
        """
        request = snapshot_service_pb2.DownloadSnapshotRequest(collection=collection, name=name)
        if not isinstance(destination, (str, os.PathLike)):
            return self._download_into(request, destination, timeout)
        path = os.fspath(destination)
        temporary = f"{path}.tmp-{secrets.token_hex(6)}"
        try:
            with open(temporary, "xb") as file:
                info = self._download_into(request, file, timeout)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        return info

    def _download_into(
        self, request: snapshot_service_pb2.DownloadSnapshotRequest, out: IO[bytes], timeout: Optional[float]
    ) -> SnapshotInfo:
        digest = hashlib.sha256()
        size = 0
        info: Optional[SnapshotInfo] = None
        responses = self._snapshots.DownloadSnapshot(request, timeout=timeout, metadata=self._metadata)
        try:
            for response in responses:
                if info is None and response.HasField("snapshot"):
                    info = _convert.snapshot_info(response.snapshot)
                digest.update(response.chunk)
                out.write(response.chunk)
                size += len(response.chunk)
        except grpc.RpcError as error:
            raise VectorDbError.from_rpc_error(error) from None
        finally:
            responses.cancel()  # no-op once complete; stops the stream when writing failed
        sha256 = digest.hexdigest()
        if info is None or size != info.size_bytes or sha256 != info.sha256:
            expected = "nothing" if info is None else f"{info.size_bytes} bytes with sha256 {info.sha256}"
            raise VectorDbError(
                grpc.StatusCode.DATA_LOSS,
                f"download of snapshot {request.name!r} is damaged: received {size} bytes with sha256 {sha256}, "
                f"the server reports {expected}",
            )
        return info

    def restore_snapshot(
        self,
        collection: str,
        source: PathOrStream,
        *,
        sha256: Optional[str] = None,
        chunk_bytes: int = SNAPSHOT_CHUNK_BYTES,
        timeout: Optional[float] = None,
    ) -> CollectionInfo:
        """Restores a snapshot file as a new collection, streaming it in chunks.

        The server checks the SHA-256 of what arrived and every section's CRC before the collection
        appears, atomically: a damaged or interrupted restore leaves nothing behind.

        Args:
            collection: name of the new collection (1 to 64 characters from ``[A-Za-z0-9_-]``, not taken
                by a collection or an alias).
            source: the snapshot file: a path, or a binary file object opened for reading (read from its
                current position to its end).
            sha256: the file's SHA-256, 64 hex digits (``SnapshotInfo.sha256``). ``None``: computed here
                by reading the file (or the stream, which must then be seekable) once before sending it.
            chunk_bytes: bytes per message (1 MiB by default; at most the server's ``--message-bytes-max``).
            timeout: deadline in seconds for the whole restore (``None``, the default: none).

        Returns the restored collection.

        Raises:
            VectorDbError: ``DATA_LOSS`` naming the damaged section (or ``sha256`` when only the hash
                disagrees); ``ALREADY_EXISTS``; ``INVALID_ARGUMENT`` for a bad name or sha256;
                ``FAILED_PRECONDITION`` when the snapshot exceeds the server's limits.
            ValueError: ``chunk_bytes`` below 1, or no ``sha256`` for a stream that cannot seek.
            OSError: the file cannot be read.
        """
        if chunk_bytes < 1:
            raise ValueError(f"chunk_bytes: expected at least 1, got {chunk_bytes}")
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as file:
                return self._restore_from(collection, file, sha256, chunk_bytes, timeout)
        return self._restore_from(collection, source, sha256, chunk_bytes, timeout)

    def _restore_from(
        self, collection: str, source: IO[bytes], sha256: Optional[str], chunk_bytes: int, timeout: Optional[float]
    ) -> CollectionInfo:
        if sha256 is None:
            if not source.seekable():
                raise ValueError("sha256: required for a source that cannot seek (it is read once, to send it)")
            start = source.tell()
            digest = hashlib.sha256()
            for block in iter(lambda: source.read(_HASH_READ_BYTES), b""):
                digest.update(block)
            source.seek(start)
            sha256 = digest.hexdigest()
        requests = _RecordingIterator(_restore_requests(collection, sha256, source, chunk_bytes))
        try:
            response = self._snapshots.RestoreSnapshot(requests, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            if requests.error is not None:
                raise requests.error from None
            raise VectorDbError.from_rpc_error(error) from None
        return _convert.collection_info(response.collection)

    # -- health ----------------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: Optional[float] = _CLIENT_DEFAULT) -> str:
        """The server's status from the standard gRPC health service: ``"SERVING"`` once ready,
        ``"NOT_SERVING"`` while starting or shutting down. ``service``: ``""`` for the whole server, or
        a service name such as ``"vectordb.v1.PointService"`` (``NOT_FOUND`` for an unknown one)."""
        response = self._call(self._health_check, _health.HealthCheckRequest(service=service), timeout)
        return _health.status_name(response)

    # -- plumbing --------------------------------------------------------------------------------

    def _call(self, method: Callable[..., _T], request: Any, timeout: Optional[float]) -> _T:
        try:
            return method(
                request,
                timeout=self.timeout if timeout is _CLIENT_DEFAULT else timeout,
                metadata=self._metadata,
            )
        except grpc.RpcError as error:
            raise VectorDbError.from_rpc_error(error) from None


def _channel_credentials(tls: TlsOption) -> Optional[grpc.ChannelCredentials]:
    if tls is None or tls is False:
        return None
    if tls is True:
        return grpc.ssl_channel_credentials()
    if isinstance(tls, (bytes, bytearray)):
        return grpc.ssl_channel_credentials(root_certificates=bytes(tls))
    if isinstance(tls, grpc.ChannelCredentials):
        return tls
    raise TypeError(
        f"tls: expected a bool, PEM root certificates (bytes) or grpc.ChannelCredentials, got {type(tls).__name__}"
    )


def _ids(ids: Sequence[str]) -> List[str]:
    if isinstance(ids, str):
        raise TypeError("ids: expected a sequence of str, got one str")
    return list(ids)


def _select_points(request: Any, ids: Optional[Sequence[str]], filter: Any, what: str) -> None:
    """Sets the ``ids`` or the ``filter`` of a payload request; exactly one of them must be given."""
    if (ids is None) == (filter is None):
        raise ValueError(f"{what}: give exactly one of ids and filter")
    if ids is not None:
        request.ids.extend(_ids(ids))
    else:
        request.filter.CopyFrom(_convert.filter_message(filter))


def _restore_requests(
    collection: str, sha256: str, source: IO[bytes], chunk_bytes: int
) -> Iterator[snapshot_service_pb2.RestoreSnapshotRequest]:
    """The messages of RestoreSnapshot: the first names the collection and the hash; each carries a chunk."""
    first = True
    for chunk in iter(lambda: source.read(chunk_bytes), b""):
        if first:
            yield snapshot_service_pb2.RestoreSnapshotRequest(collection=collection, sha256=sha256, chunk=chunk)
            first = False
        else:
            yield snapshot_service_pb2.RestoreSnapshotRequest(chunk=chunk)
    if first:  # an empty file: one message, so the server still hears the name and hash (and refuses it)
        yield snapshot_service_pb2.RestoreSnapshotRequest(collection=collection, sha256=sha256)


class _AbortedOpening(Exception):
    """An IngestStream refused with ABORTED before its first answer: another stream of the load is open."""

    def __init__(self, error: VectorDbError) -> None:
        super().__init__(str(error))
        self.error = error


def _resolve_query(item: Any, shared: Query) -> Query:
    """A ``Query`` with every ``None`` field taken from ``shared``; a bare vector takes them all."""
    if not isinstance(item, Query):
        return dataclasses.replace(shared, vector=item)
    own = {f.name: getattr(item, f.name) for f in dataclasses.fields(item) if getattr(item, f.name) is not None}
    return dataclasses.replace(shared, **own)


def _query_message(query: Query, index: int) -> point_pb2.SearchQuery:
    message = point_pb2.SearchQuery(
        vector=_convert.vector(query.vector, f"queries[{index}].vector"),
        k=query.k or 0,
        filter=_convert.filter_message(query.filter),
        ef=query.ef or 0,
        exact=bool(query.exact),
        with_payload=bool(query.with_payload),
        with_vector=bool(query.with_vector),
    )
    if query.score_threshold is not None:
        message.score_threshold = query.score_threshold
    return message


class _RecordingIterator(Iterator[_T]):
    """Wraps the request iterator of a streaming call and keeps the exception it raised, if any.

    grpcio reads request iterators on its own thread; an exception there only cancels the call
    (``CANCELLED: Exception iterating requests!``), so ``ingest`` re-raises the original instead.
    """

    def __init__(self, inner: Iterator[_T]) -> None:
        self._inner = inner
        self.error: Optional[BaseException] = None

    def __next__(self) -> _T:
        try:
            return next(self._inner)
        except StopIteration:
            raise
        except BaseException as error:
            self.error = error
            raise
