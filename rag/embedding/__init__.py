"""The embedding model: the bundled all-MiniLM-L6-v2 (sentence-transformers to build), and its ONNX
export that embeds questions without torch."""
