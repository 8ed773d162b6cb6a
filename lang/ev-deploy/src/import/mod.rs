//! `ev import`: declarations written from what people already run, each
//! read into the typed data its backend renders, so that the program ev
//! writes can be checked to render exactly what it was imported from.

pub mod dns;
