"""Generated from proto/vectordb by scripts/generate-clients.sh. DO NOT EDIT."""
