"""Answer selection: candidate sentences and their features, the selector and the reader that choose
what to quote, the short answer inside it, and when to abstain."""
