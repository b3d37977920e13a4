"""规划问答 (Plan Q&A): cited answers about the Changning District 14th Five-Year Plan outline.

Data flows one way: plan text → outline → chunks → index → retrieval → answer →
front ends (chat page, CLI, eval).
"""
