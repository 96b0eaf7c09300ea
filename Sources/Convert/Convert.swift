// Convert module; see the style guide for its layout.
