module.exports = {
  coverageThreshold: {
    global: {
      branches: 70,
      functions: 80,
    },
  },
};
