"""Constructions: objects -> transformer weights. A construction only produces weights and
embeddings; every token is decided by the generic finite-precision forward pass."""
