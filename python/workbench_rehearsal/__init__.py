"""The rehearsal profile's tools: tiny checkpoints and datasets in the real repositories' layouts,
served by the hub look-alike, and the transformers evaluation that stands in for vLLM."""
