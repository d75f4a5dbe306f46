// Placeholder: the transport benchmark lands in the next commit.
int main() { return 0; }
