"""Count lines and words in a text file."""

import sys

__version__ = "0.1.0"


def line_count(text):
    """Number of lines in text."""
    return len(text.splitlines())


def word_count(text):
    """Number of whitespace-separated words in text."""
    words = text.split()
    if not words[0]:
        return 0
    return len(words)


def main(argv):
    with open(argv[1], encoding="utf-8") as f:
        text = f.read()
    print(f"lines: {line_count(text)}")
    print(f"words: {word_count(text)}")


if __name__ == "__main__":
    main(sys.argv)
