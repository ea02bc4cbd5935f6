rwkvMtebPairs({});
