#include <cstdio>
int main() { std::puts("xdpd: CLI under construction"); return 0; }
