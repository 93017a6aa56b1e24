; Definitions in Rust source, for bosun's structural annotations.
;
; Captures: @def.<kind> is the definition's node (kind: function, method, struct, enum,
; trait, impl, class, interface, type, module, const); @name is its name (for an impl, the
; implemented type); @body is the part of the node that is not signature: a function's
; block, a module's, trait's or impl's items, a constant's value. Everything else in the
; node (visibility, generics, parameters, return type, where clause, a struct's fields or an
; enum's variants) is signature. A function inside an impl or trait becomes a method.

(function_item name: (_) @name body: (block) @body) @def.function
(function_signature_item name: (_) @name) @def.function

(struct_item name: (type_identifier) @name) @def.struct
(union_item name: (type_identifier) @name) @def.struct
(enum_item name: (type_identifier) @name) @def.enum
(type_item name: (type_identifier) @name) @def.type

(trait_item name: (type_identifier) @name body: (declaration_list) @body) @def.trait
(impl_item type: (_) @name body: (declaration_list) @body) @def.impl

(mod_item name: (identifier) @name body: (declaration_list) @body) @def.module
(mod_item name: (identifier) @name !body) @def.module

(const_item name: (identifier) @name value: (_) @body) @def.const
(const_item name: (identifier) @name !value) @def.const
(static_item name: (identifier) @name value: (_) @body) @def.const
(static_item name: (identifier) @name !value) @def.const
