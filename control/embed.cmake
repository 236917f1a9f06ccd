# embed.cmake - turns a file into a C source defining `const char NAME[]` (NUL-terminated) and
# `const unsigned long NAME_len`. Usage: cmake -DIN=file -DOUT=file.c -DNAME=sym -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by embed.cmake; do not edit */\n"
    "const char ${NAME}[] = {${body}0x00};\nconst unsigned long ${NAME}_len = ${bytes};\n")
