"""Face verification in the exam: identity (实名认证) against the ID photo, the waiting-room gate, in-exam checks,
and the manual review queue.

The engine (app.face) knows nothing about exams; the rules are here. A capture with quality findings (dark, blurred,
several faces, ...) is coaching: recorded, answered with zh-CN/English hints, but not *counted* as a failed
comparison. Counted failures drive the limits: N failed selfies open a manual review; a few failed gate checks in a
row start a cool-down. Every check is recorded with its image in the object store; images and embeddings never go to
the logs. Bad input (not an image, truncated, a decompression bomb) is refused before anything is stored.
"""
