import { render } from "./render";

describe("Button", () => {
  it.only("renders", () => {
    expect(render()).toBeTruthy();
  });

  xit("clicks", () => {
    expect(click()).toBe(1);
  });
});
