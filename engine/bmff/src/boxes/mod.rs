//! The one ISO-BMFF box reader and writer (ISO/IEC 14496-12, 4.2): [`read_boxes`] / [`BoxRef`]
//! walk untrusted bytes with every size checked, [`BoxWriter`] writes boxes with sizes patched
//! after the body, [`Cursor`] reads big-endian fields. Everything that parses or writes a box in
//! abmark (CMAF segments, CENC boxes, `pssh`, `wmpi`) goes through here.

mod cursor;
mod reader;
mod writer;

pub use cursor::Cursor;
pub use reader::{find_all, find_box, read_boxes, require_box, BoxRef, FullBox};
pub use writer::{BoxWriter, Patch};
