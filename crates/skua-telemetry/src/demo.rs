//! Seeded generator of a realistic demo fleet (filled in below).
