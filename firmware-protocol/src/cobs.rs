//! Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999): removes every `0x00` from a
//! frame so that `0x00` can delimit frames and a receiver can resynchronise on it.

/// Encodes `src` into `dst` (no delimiter); returns the encoded length, or `None` when `dst`
/// is too small. The output is at most `src.len() + src.len() / 254 + 1` bytes.
pub(crate) fn encode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let mut code_at = 0; // where the current block's length code goes
    let mut out = 1;
    let mut code: u8 = 1;
    *dst.get_mut(code_at)? = 0;
    for &byte in src {
        if byte == 0 {
            dst[code_at] = code;
            code_at = out;
            *dst.get_mut(code_at)? = 0;
            out += 1;
            code = 1;
        } else {
            *dst.get_mut(out)? = byte;
            out += 1;
            code += 1;
            if code == 0xFF {
                dst[code_at] = code;
                code_at = out;
                *dst.get_mut(code_at)? = 0;
                out += 1;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    Some(out)
}

/// Decodes a COBS block sequence (no delimiter) in place; returns the decoded length, or `None`
/// when the input is not valid COBS (a zero byte, or a block running past the end).
pub(crate) fn decode_in_place(buf: &mut [u8]) -> Option<usize> {
    let mut read = 0;
    let mut write = 0;
    while read < buf.len() {
        let code = buf[read];
        if code == 0 {
            return None;
        }
        read += 1;
        let block_end = read + usize::from(code) - 1;
        if block_end > buf.len() {
            return None;
        }
        while read < block_end {
            let byte = buf[read];
            if byte == 0 {
                return None;
            }
            buf[write] = byte;
            write += 1;
            read += 1;
        }
        // A block shorter than 254 data bytes stands for a zero, except at the very end.
        if code != 0xFF && read < buf.len() {
            buf[write] = 0;
            write += 1;
        }
    }
    Some(write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(src: &[u8]) {
        let mut enc = [0u8; 1200];
        let n = encode(src, &mut enc).unwrap();
        assert!(!enc[..n].contains(&0), "encoded data must contain no zero");
        assert!(n <= src.len() + src.len() / 254 + 1);
        let m = decode_in_place(&mut enc[..n]).unwrap();
        assert_eq!(&enc[..m], src);
    }

    #[test]
    fn known_vectors() {
        // Vectors from the COBS paper / Wikipedia's examples.
        let mut out = [0u8; 16];
        let n = encode(&[0x00], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x01, 0x01]);
        let n = encode(&[0x11, 0x22, 0x00, 0x33], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x03, 0x11, 0x22, 0x02, 0x33]);
        let n = encode(&[0x11, 0x00, 0x00, 0x00], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x02, 0x11, 0x01, 0x01, 0x01]);
        let n = encode(&[], &mut out).unwrap();
        assert_eq!(&out[..n], &[0x01]);
    }

    #[test]
    fn round_trips_including_long_runs() {
        round_trip(&[]);
        round_trip(&[0; 10]);
        let mut long = [0u8; 1000];
        for (i, b) in long.iter_mut().enumerate() {
            *b = (i % 255 + 1) as u8;
        }
        round_trip(&long[..253]);
        round_trip(&long[..254]);
        round_trip(&long[..255]);
        round_trip(&long);
    }

    #[test]
    fn rejects_zero_and_overrun() {
        assert_eq!(decode_in_place(&mut [0x02, 0x00]), None);
        assert_eq!(decode_in_place(&mut [0x05, 0x01]), None);
    }
}
