"""The capabilities a YML channel implements: the feed, and the stock and prices it carries (:mod:`.feed`)."""
