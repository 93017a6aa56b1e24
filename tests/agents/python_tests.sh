#!/bin/sh
# Works on a small Python project (calc.py + test_calc.py, run with `python3 -m unittest -v`)
# the way an agent would, choosing what to do from its task's title in the prompt:
#   "failing test"  adds a test for calc.mul, which does not exist yet (a new failure);
#   "multiply"      adds calc.mul and a passing test for it;
#   "Skip"          marks the passing test_add as skipped (weakening the suite);
#   "break"         breaks add, so the test that passed before fails.
set -e
prompt=$(cat "$BOSUN_PROMPT_FILE")
case "$prompt" in
*"failing test"*)
    cat >> test_calc.py <<'PY'

class TestMul(unittest.TestCase):
    def test_mul(self):
        self.assertEqual(calc.mul(2, 3), 6)
PY
    ;;
*multiply*)
    printf '\n\ndef mul(a, b):\n    return a * b\n' >> calc.py
    cat >> test_calc.py <<'PY'

class TestMul(unittest.TestCase):
    def test_mul(self):
        self.assertEqual(calc.mul(2, 3), 6)
PY
    ;;
*Skip*)
    sed -i 's/^    def test_add/    @unittest.skip("flaky")\n    def test_add/' test_calc.py
    ;;
*break*)
    sed -i 's/return a + b$/return a + b + 1/' calc.py
    ;;
*)
    echo "no idea what to do" >&2
    exit 1
    ;;
esac
echo "done"
