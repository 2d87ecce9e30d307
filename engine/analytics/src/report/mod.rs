//! What the ranking becomes for people and for the edge: a self-contained HTML page with
//! charts ([`html`]) and the deny-list file of the flagged subjects ([`suspects`]).

pub mod html;
pub mod suspects;
