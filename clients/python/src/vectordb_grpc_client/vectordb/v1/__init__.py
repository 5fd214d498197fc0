"""Messages and gRPC stubs of package vectordb.v1, generated from proto/vectordb/v1 by
scripts/generate-clients.sh (protoc 3.21.12, grpc_python_plugin). DO NOT EDIT."""
