"""The assistant engine on today's OpenAI APIs: Responses + Conversations for text."""
