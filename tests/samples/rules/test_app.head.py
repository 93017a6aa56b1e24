import pytest


@pytest.mark.xfail(reason="flaky")
def test_login():
    assert login("a", "b")


class TestCart:
    @pytest.mark.skip
    def test_add(self):
        self.assertEqual(cart.add(1), 1)

    def test_remove(self):
        cart.remove(1)
