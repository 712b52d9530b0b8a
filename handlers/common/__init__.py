"""What the feature folders share: the Deps and middleware, payload readers, errors, the
modal budget and opening, replies, the markup gate and the Block Kit builders used by
more than one feature. Nothing here imports a feature folder."""
