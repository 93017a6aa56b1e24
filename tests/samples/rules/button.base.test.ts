import { render } from "./render";

describe("Button", () => {
  it("renders", () => {
    expect(render()).toBeTruthy();
  });

  it("clicks", () => {
    expect(click()).toBe(1);
  });

  test('disables', () => {
    expect(disabled()).toBe(true);
  });
});
