pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_small() {
        assert_eq!(add(1, 2), 3);
        assert_eq!(add(2, 2), 4);
    }

    #[test]
    fn adds_negative() {
        assert_eq!(add(-1, -2), -3);
    }

    #[tokio::test]
    async fn adds_async() {
        assert_eq!(add(0, 0), 0);
    }

    #[test]
    fn old_name() {
        assert!(add(1, 1) == 2);
    }

    #[test]
    fn overflow() {
        let _ = add(i32::MAX, 0);
    }
}
