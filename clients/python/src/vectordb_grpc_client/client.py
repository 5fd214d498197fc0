"""The typed client: one gRPC channel, one method per RPC, plain Python values in and out."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

import grpc

from . import _convert, _health
from .errors import VectorDbError
from .models import CollectionInfo, Hit, IngestResult, Payload, Point, Query, UpsertResult
from .vectordb.v1 import (
    collection_pb2,
    collection_service_pb2,
    collection_service_pb2_grpc,
    point_pb2,
    point_service_pb2,
    point_service_pb2_grpc,
)

DEFAULT_TIMEOUT_S = 30.0
"""Deadline of every call except ``ingest``, in seconds, unless the client or the call says otherwise."""
DEFAULT_MESSAGE_BYTES_MAX = 64 * 1024 * 1024
"""Largest message sent or received, in bytes: the server's default ``--message-bytes-max``.
(grpcio's own default for received messages, 4 MiB, is too small for a large ``get`` or ``batch_search``.)"""
DEFAULT_INGEST_BATCH_SIZE = 1000
"""Points per ``Ingest`` message when ``ingest`` groups points; the server accepts up to 10,000 by default."""

TlsOption = Union[bool, bytes, grpc.ChannelCredentials, None]
_T = TypeVar("_T")
# Marks "not given" for timeouts, where None means "no deadline".
_CLIENT_DEFAULT: Any = object()


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
