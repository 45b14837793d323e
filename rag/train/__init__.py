"""`rag train`: fitting the answer models and the passage ranker on train splits only."""
