//! Stable text names for the enums a backend stores in a text column or a Redis hash field.

/// Declares a `Copy` enum with a stable text name per variant: `as_str`, `FromStr` (an unknown
/// name is [`StoreError::Corrupt`](crate::StoreError::Corrupt)) and `Display`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// The stable text name a backend stores (the inverse of `FromStr`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text ),+
                }
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::StoreError;

            fn from_str(text: &str) -> $crate::Result<Self> {
                match text {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err($crate::StoreError::corrupt(concat!("unknown ", stringify!($name), " name"))),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;
