"""The daily email digest: compose each user's matches of a day into MIME mail and send it once.

``compose`` knows email (parts, tables, attachments, size limits); ``send`` knows the
procedure (who gets mail, what was sent already, when to mark a part sent); the storage
side is :mod:`skystream.storage.digest`.
"""
