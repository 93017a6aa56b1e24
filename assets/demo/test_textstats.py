import unittest

from textstats import line_count, word_count


class CountTest(unittest.TestCase):
    def test_lines(self):
        self.assertEqual(line_count("a\nb\n"), 2)

    def test_words(self):
        self.assertEqual(word_count("one two  three"), 3)


if __name__ == "__main__":
    unittest.main()
