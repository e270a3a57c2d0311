"""Preparation of fetched training data for the paper profile (arXiv 2411.19930).

Standard library only: it runs in whatever Python the GPU machine's stage has. It turns hub
snapshots fetched by `workbench fetch` (JSON files, image archives) into the layout the upstream
scripts read: an image folder and ShareGPT `messages`/`images` files whose image paths resolve
in that folder (prepare.py); the synthesizer's seed data (seed.py); the training files of a
synthesis (post_train.py); LLaVA's row-shape check and mixed files (rows.py).
"""
