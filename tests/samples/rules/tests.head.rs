pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_small() {
        let _ = add(1, 2);
    }

    #[test]
    #[ignore]
    fn adds_negative() {
        assert_eq!(add(-1, -2), -3);
    }

    #[test]
    fn new_name() {
        assert!(add(1, 1) == 2);
    }

    fn overflow() {
        let _ = add(i32::MAX, 0);
    }
}
