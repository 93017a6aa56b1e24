#!/bin/sh
# Writes blob.bin: bytes git takes for binary (NULs among them). Octal escapes are POSIX printf.
printf 'GIF89a\000\001\002\377\376\000tail\n' > blob.bin
echo "wrote blob.bin"
